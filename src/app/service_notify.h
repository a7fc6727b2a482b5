// systemd's service readiness protocol (sd_notify(3)), for `Type=notify` units: the control
// thread says READY=1 when it prints `ready:`, RELOADING=1 ... READY=1 around a reload, and
// STOPPING=1 when a graceful stop begins. Every call is a no-op (returns 0) when
// NOTIFY_SOCKET is unset, as it is outside systemd; a failure to send is returned, never
// fatal: serving does not depend on the service manager hearing about it.
#pragma once

#include <string>

namespace sluice::app {

// Sends `state` (newline-separated VAR=value assignments) to $NOTIFY_SOCKET. Returns > 0 when
// sent, 0 when NOTIFY_SOCKET is unset, a negative errno value when sending failed.
int ServiceNotify(const std::string& state);

// READY=1, with `status` as STATUS= (what `systemctl status` shows).
int NotifyReady(const std::string& status);
// RELOADING=1 and MONOTONIC_USEC= (CLOCK_MONOTONIC now, which systemd 253's Type=notify-reload
// requires and older versions ignore). Follow it with NotifyReady once the reload is done,
// applied or refused.
int NotifyReloading();
// STOPPING=1.
int NotifyStopping();

}  // namespace sluice::app
