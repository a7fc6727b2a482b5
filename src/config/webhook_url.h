// An alarm action's URL (config Alarms[].AlarmActions): http://host[:port]/path, host an IP
// address (IPv6 in brackets) or a name. Pure; shared by the loader and the webhook sender.
#pragma once

#include <string>
#include <string_view>

namespace sluice::config {

// Splits `url` into host, port (80 when absent) and path ("/" when absent); false with *why
// for anything else (https, another scheme, a bad port, a space or control byte in the path).
bool ParseWebhookUrl(std::string_view url, std::string* host, int* port, std::string* path,
                     std::string* why);

}  // namespace sluice::config
