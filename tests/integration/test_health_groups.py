"""Target groups and target health (reference §2.4): a group that no listener forwards to is
not health-checked and its targets are `unused` / Target.NotInUse; a reload that makes it used
starts them in `initial` and checks them; an existing group without targets is listed with an
empty list (not TargetGroupNotFound)."""

from conftest import (LOCAL, admin_get, fast_health, forward, free_port, lb_config, path_is,
                      rule, target_group, target_health, wait_health, wait_until)

NOT_IN_USE = {"State": "unused", "Reason": "Target.NotInUse",
              "Description": "Target group is not configured to receive traffic from the "
                             "load balancer"}


def config(port, admin, used_port, spare_port, spare_used):
    rules = [rule(10, [path_is("/spare/*")], forward("spare"))] if spare_used else []
    cfg = lb_config(port, forward("web"), rules=rules, target_groups=[
        target_group("web", [used_port], health=True, **fast_health()),
        target_group("spare", [spare_port], health=True, **fast_health())])
    cfg["Admin"] = {"Address": LOCAL, "Port": admin}
    return cfg


def test_unused_group_is_not_checked_until_a_reload_uses_it(sluice, controlled, http):
    web, spare = controlled("web"), controlled("spare")
    port, admin = free_port(), free_port()
    s = sluice(config(port, admin, web.port, spare.port, spare_used=False))
    wait_health(admin, "web", web.port, "healthy", 10)
    # The first checks of both groups would have been due at once: web's has passed, so a
    # check of spare would have happened too.
    assert target_health(admin, "spare", spare.port) == NOT_IN_USE
    assert spare.checks() == [] and spare.connections == 0, [c.path for c in spare.checks()]
    status, _, doc = admin_get(admin, "/targets/spare")
    assert status == 200
    assert doc["TargetHealthDescriptions"][0]["TargetHealth"] == NOT_IN_USE

    spare.set_health("delay", delay=1.0)  # its first check stays in progress for a second
    s.reload(config(port, admin, web.port, spare.port, spare_used=True))
    th = target_health(admin, "spare", spare.port)
    assert th is not None and th["State"] == "initial", th
    assert th["Reason"] in ("Elb.RegistrationInProgress", "Elb.InitialHealthChecking"), th
    wait_health(admin, "spare", spare.port, "healthy", 10)
    assert len(spare.checks()) >= 1
    assert http.get(s.url("/spare/x"), timeout=10).headers["X-Sluice-Target"] == "spare"

    # Unused again: no more checks, shown unused.
    s.reload(config(port, admin, web.port, spare.port, spare_used=False))
    assert target_health(admin, "spare", spare.port) == NOT_IN_USE
    assert target_health(admin, "web", web.port) == {"State": "healthy"}


def test_group_without_targets_is_an_empty_list(sluice, controlled):
    web = controlled("web")
    port, admin = free_port(), free_port()
    cfg = lb_config(port, forward("web"), target_groups=[
        target_group("web", [web.port], health=True, **fast_health()),
        target_group("empty", [], health=True, **fast_health())])
    cfg["Admin"] = {"Address": LOCAL, "Port": admin}
    sluice(cfg)
    status, body, doc = admin_get(admin, "/targets/empty")
    assert status == 200, body
    assert doc == {"TargetHealthDescriptions": []}, doc
    _, _, all_groups = admin_get(admin, "/targets")
    assert [(g["TargetGroupName"], g["TargetHealthDescriptions"])
            for g in all_groups["TargetGroups"]][1] == ("empty", [])
    # A group that does not exist is still an error.
    status, _, err = admin_get(admin, "/targets/no-such-group")
    assert status == 404 and err["Error"]["Code"] == "TargetGroupNotFound"


def test_group_emptied_by_reload_stays_listed(sluice, controlled):
    """Its deregistered target drains (deregistration delay 0 here: it leaves at once), and
    the group itself stays, with an empty list."""
    web, gone = controlled("web"), controlled("gone")
    port, admin = free_port(), free_port()

    def cfg(ports):
        c = lb_config(port, forward("web"), rules=[rule(5, [path_is("/g/*")], forward("g"))],
                      target_groups=[
                          target_group("web", [web.port], health=True, **fast_health()),
                          target_group("g", ports, health=True,
                                       attributes={"deregistration_delay.timeout_seconds": "0"},
                                       **fast_health())])
        c["Admin"] = {"Address": LOCAL, "Port": admin}
        return c

    s = sluice(cfg([gone.port]))
    wait_health(admin, "g", gone.port, "healthy", 10)
    s.reload(cfg([]))
    wait_until(lambda: admin_get(admin, "/targets/g")[2] == {"TargetHealthDescriptions": []},
               5, what="group g listed with no targets")
