// Sluice's admin dashboard. Reads only the admin endpoint's own JSON: /dashboard/model (load
// balancers, listeners, rules, target groups), /targets (health), /alarms, and /cloudwatch
// (GetMetricStatistics over the last hour), every `refresh` seconds (?refresh=N, default 5).
// Every value is put in the page as text, never as markup.
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const refreshS = Math.max(1, Number(params.get("refresh")) || 5);
  const windowS = 3600;
  const charts = new Map();  // chart id -> {plot, element}
  let refreshes = 0;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  async function getJson(path) {
    const r = await fetch(path, { cache: "no-store", credentials: "same-origin" });
    if (!r.ok) throw new Error(path + ": " + r.status + " " + r.statusText);
    return r.json();
  }

  // One series of GetMetricStatistics as values aligned on `xs` (missing counts are 0: a
  // counter has no data point when nothing happened; missing times are gaps).
  async function series(ns, metric, dim, stat, xs, period, perSecond) {
    const q = new URLSearchParams({
      Action: "GetMetricStatistics", Namespace: ns, MetricName: metric,
      "Dimensions.member.1.Name": dim[0], "Dimensions.member.1.Value": dim[1],
      StartTime: String(xs[0]), EndTime: String(xs[xs.length - 1] + period),
      Period: String(period),
    });
    const extended = stat.startsWith("p");
    q.set(extended ? "ExtendedStatistics.member.1" : "Statistics.member.1", stat);
    const doc = await getJson("/cloudwatch?" + q.toString());
    const byTime = new Map();
    for (const p of doc.Datapoints || []) {
      const v = extended ? (p.ExtendedStatistics || {})[stat] : p[stat];
      byTime.set(Math.round(Date.parse(p.Timestamp) / 1000), v);
    }
    return xs.map((x) => {
      if (!byTime.has(x)) return extended ? null : 0;
      const v = byTime.get(x);
      return perSecond ? v / period : extended ? v * 1000 : v;
    });
  }

  function timeAxis(period) {
    const end = Math.floor(Date.now() / 1000 / period) * period;
    const xs = [];
    for (let t = end - windowS; t < end; t += period) xs.push(t);
    return xs;
  }

  // Draws (or updates) chart `id` inside `host`.
  // `dots`: mark every data point (latency has gaps where nothing was answered, and a lone
  // point between gaps draws no line).
  function drawChart(host, id, title, labels, colors, data, dots) {
    let c = charts.get(id);
    if (!c || !host.contains(c.element)) {
      const element = el("div", { class: "chart", "data-chart": id }, el("div", { class: "title" }, title));
      host.append(element);
      const opts = {
        width: chartWidth(element), height: 150, legend: { live: false },
        scales: { x: { time: true } },
        series: [{}].concat(labels.map((l, i) => ({
          label: l, stroke: colors[i], width: 1.5,
          points: dots ? { show: true, size: 4, fill: colors[i] } : {},
        }))),
        axes: [{ size: 30 }, { size: 48 }],
      };
      c = { element, plot: new uPlot(opts, data, element) };
      charts.set(id, c);
      resizer.observe(element);
    } else {
      c.plot.setData(data);
    }
  }

  function chartWidth(element) {
    return Math.max(160, Math.floor(element.getBoundingClientRect().width) || 300);
  }

  // A chart follows its card's width (a phone turned, a window resized).
  const resizer = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const c = charts.get(entry.target.getAttribute("data-chart"));
      if (c && c.plot.width !== chartWidth(entry.target)) {
        c.plot.setSize({ width: chartWidth(entry.target), height: 150 });
      }
    }
  });

  function rulesTable(listener) {
    const body = el("tbody");
    for (const r of listener.Rules) {
      body.append(el("tr", { "data-rule": r.Priority },
        el("td", {}, r.Priority),
        el("td", {}, r.Conditions.length ? r.Conditions.join("; ") : "—"),
        el("td", {}, r.Actions.join("; "))));
    }
    return el("div", { class: "scroll" }, el("table", { class: "grid" },
      el("thead", {}, el("tr", {}, el("th", {}, "Priority"), el("th", {}, "Conditions"),
                      el("th", {}, "Actions"))), body));
  }

  function loadBalancerCard(lb) {
    const card = el("div", { class: "card", "data-load-balancer": lb.Name },
      el("h3", {}, lb.Name), el("div", { class: "meta" }, lb.Type + " · " + lb.Dimension));
    for (const l of lb.Listeners) {
      card.append(el("div", { class: "listener", "data-listener": String(l.Port) },
        el("h4", {}, l.Protocol + " " + l.Address + ":" + l.Port), rulesTable(l)));
    }
    card.append(el("div", { class: "charts" }));
    return card;
  }

  function targetRows(health) {
    const body = el("tbody");
    for (const d of health || []) {
      const th = d.TargetHealth;
      body.append(el("tr", { "data-target": d.Target.Id + ":" + d.Target.Port },
        el("td", {}, d.Target.Id + ":" + d.Target.Port),
        el("td", { class: "state state-" + th.State }, th.State),
        el("td", {}, th.Reason || "—"), el("td", {}, th.Description || "")));
    }
    return el("div", { class: "scroll" }, el("table", { class: "grid" },
      el("thead", {}, el("tr", {}, el("th", {}, "Target"), el("th", {}, "State"),
                      el("th", {}, "Reason"), el("th", {}, "Description"))), body));
  }

  function targetGroupCard(tg, health) {
    return el("div", { class: "card", "data-target-group": tg.Name },
      el("h3", {}, tg.Name),
      el("div", { class: "meta" }, tg.Protocol + ":" + tg.Port + " · health check " +
         tg.HealthCheck + (tg.LoadBalancers.length ? " · " + tg.LoadBalancers.join(", ") : "")),
      targetRows(health), el("div", { class: "charts" }));
  }

  // Replaces `host`'s cards when the model's shape changed; returns the card per name.
  function cards(host, items, key, make, signature) {
    if (host.dataset.signature !== signature) {
      host.replaceChildren(el("div", { class: "cards" }, ...items.map(make)));
      host.dataset.signature = signature;
    }
    const byName = new Map();
    for (const c of host.querySelectorAll("[" + key + "]")) byName.set(c.getAttribute(key), c);
    return byName;
  }

  async function loadBalancerCharts(lb, card, xs, period) {
    const dim = ["LoadBalancer", lb.Dimension];
    const host = card.querySelector(".charts");
    if (lb.Type === "network") {
      const [flows, bytes] = await Promise.all([
        series(lb.Namespace, "NewFlowCount", dim, "Sum", xs, period, true),
        series(lb.Namespace, "ProcessedBytes", dim, "Sum", xs, period, true)]);
      drawChart(host, "lb-flows-" + lb.Name, "New flows per second", ["flows/s"], ["#3b5b92"], [xs, flows]);
      drawChart(host, "lb-bytes-" + lb.Name, "Bytes per second", ["bytes/s"], ["#1a7f37"], [xs, bytes]);
      return;
    }
    const [requests, elb5, target5, p50, p99] = await Promise.all([
      series(lb.Namespace, "RequestCount", dim, "Sum", xs, period, true),
      series(lb.Namespace, "HTTPCode_ELB_5XX_Count", dim, "Sum", xs, period, true),
      series(lb.Namespace, "HTTPCode_Target_5XX_Count", dim, "Sum", xs, period, true),
      series(lb.Namespace, "TargetResponseTime", dim, "p50", xs, period, false),
      series(lb.Namespace, "TargetResponseTime", dim, "p99", xs, period, false)]);
    drawChart(host, "lb-requests-" + lb.Name, "Requests per second", ["requests/s"], ["#3b5b92"],
              [xs, requests]);
    drawChart(host, "lb-errors-" + lb.Name, "5XX per second", ["ELB 5XX", "target 5XX"],
              ["#c62828", "#b26a00"], [xs, elb5, target5]);
    drawChart(host, "lb-latency-" + lb.Name, "Target response time (ms)", ["p50", "p99"],
              ["#1a7f37", "#b26a00"], [xs, p50, p99], true);
  }

  async function targetGroupCharts(tg, card, xs, period) {
    if (!/^(HTTP|HTTPS)$/.test(tg.Protocol)) return;  // network groups: health only
    const dim = ["TargetGroup", tg.Dimension];
    const ns = "AWS/ApplicationELB";
    const host = card.querySelector(".charts");
    const [requests, target5, p50, p99] = await Promise.all([
      series(ns, "RequestCount", dim, "Sum", xs, period, true),
      series(ns, "HTTPCode_Target_5XX_Count", dim, "Sum", xs, period, true),
      series(ns, "TargetResponseTime", dim, "p50", xs, period, false),
      series(ns, "TargetResponseTime", dim, "p99", xs, period, false)]);
    drawChart(host, "tg-requests-" + tg.Name, "Requests and target 5XX per second",
              ["requests/s", "5XX/s"], ["#3b5b92", "#c62828"], [xs, requests, target5]);
    drawChart(host, "tg-latency-" + tg.Name, "Target response time (ms)", ["p50", "p99"],
              ["#1a7f37", "#b26a00"], [xs, p50, p99], true);
  }

  function showAlarms(doc) {
    const alarms = (doc && doc.MetricAlarms) || [];
    document.getElementById("alarms").hidden = alarms.length === 0;
    document.getElementById("alarm-rows").replaceChildren(...alarms.map((a) =>
      el("tr", { "data-alarm": a.AlarmName }, el("td", {}, a.AlarmName),
        el("td", { class: "state state-" + a.StateValue }, a.StateValue),
        el("td", {}, a.StateReason || ""))));
  }

  async function refresh() {
    const [model, targets, alarms] = await Promise.all([
      getJson("/dashboard/model"), getJson("/targets"),
      getJson("/alarms").catch(() => null)]);
    const health = new Map((targets.TargetGroups || []).map((g) =>
      [g.TargetGroupName, g.TargetHealthDescriptions]));
    const lbs = model.LoadBalancers || [];
    const tgs = model.TargetGroups || [];
    const lbCards = cards(document.getElementById("load-balancers"), lbs, "data-load-balancer",
                          loadBalancerCard, JSON.stringify(lbs));
    const tgCards = cards(document.getElementById("target-groups"), tgs, "data-target-group",
                          (tg) => targetGroupCard(tg, health.get(tg.Name)), JSON.stringify(tgs));
    for (const tg of tgs) {
      const old = tgCards.get(tg.Name).querySelector(".scroll");
      old.replaceWith(targetRows(health.get(tg.Name)));
    }
    showAlarms(alarms);
    const period = Math.max(10, model.MetricsResolutionSeconds || 10);
    const xs = timeAxis(period);
    await Promise.all(lbs.map((lb) => loadBalancerCharts(lb, lbCards.get(lb.Name), xs, period))
      .concat(tgs.map((tg) => targetGroupCharts(tg, tgCards.get(tg.Name), xs, period))));
  }

  async function loop() {
    const status = document.getElementById("status");
    try {
      await refresh();
      refreshes += 1;
      document.body.dataset.refreshes = String(refreshes);
      status.className = "status";
      status.textContent = "updated " + new Date().toLocaleTimeString() + " · every " +
        refreshS + " s · last hour";
    } catch (e) {
      status.className = "status error";
      status.textContent = "cannot refresh: " + e.message;
    }
    setTimeout(loop, refreshS * 1000);
  }

  // For tests and the curious: a chart's data as drawn ([times, series...]), by chart id.
  window.sluiceDashboard = { data: (id) => (charts.has(id) ? charts.get(id).plot.data : null) };
  loop();
})();
