// A console load test's page: its figures and two charts, polled once a
// second from /console/loadtest/{id}/state until the run is done, then its
// report (status codes, errors, responses per instance).
(function () {
  "use strict";
  var root = document.getElementById("loadrun");
  if (!root) return;
  var id = root.dataset.id;
  var rpsChart = null, latChart = null;
  var state = window.albaLoadTest = { points: 0, running: true, report: null };

  function text(id, v) { document.getElementById(id).textContent = v; }
  function f1(v) { return (Math.round(v * 10) / 10).toString(); }

  function table(title, counts) {
    var keys = Object.keys(counts || {});
    if (!keys.length) return "";
    keys.sort();
    var h = "<h3>" + title + "</h3><table><tbody>";
    keys.forEach(function (k) {
      var td1 = document.createElement("td"); td1.textContent = k || "(none)";
      var td2 = document.createElement("td"); td2.textContent = counts[k];
      h += "<tr>" + td1.outerHTML + td2.outerHTML + "</tr>";
    });
    return h + "</tbody></table>";
  }

  function draw(st) {
    var pts = st.points;
    state.points = pts.length;
    state.running = st.running;
    var last = pts.length ? pts[pts.length - 1] : null;
    text("lt-state", st.running ? "running" : (st.error ? "failed: " + st.error : "done"));
    if (last) {
      text("lt-requests", last.requests);
      text("lt-failures", last.failures);
      text("lt-rps", f1(last.rps));
      text("lt-latency", f1(last.p50) + " / " + f1(last.p95) + " / " + f1(last.p99));
    }
    var rps = pts.map(function (p, i) {
      var failed = i ? p.failures - pts[i - 1].failures : p.failures;
      return [new Date(p.t), p.rps, failed];
    });
    var lat = pts.map(function (p) { return [new Date(p.t), p.p50, p.p95, p.p99]; });
    if (!rps.length) { rps = [[new Date(), 0, 0]]; lat = [[new Date(), null, null, null]]; }
    var common = { legend: "always", includeZero: true, strokeWidth: 1.5, axisLabelFontSize: 11, gridLineColor: "#e9ebed" };
    if (!rpsChart) {
      rpsChart = new Dygraph(root.querySelector('[data-chart="lt-rps"]'), rps, Object.assign({ labels: ["time", "RPS", "failures/s"], colors: ["#037f0c", "#d91515"], labelsDiv: root.querySelector('[data-legend="lt-rps"]') }, common));
      latChart = new Dygraph(root.querySelector('[data-chart="lt-latency"]'), lat, Object.assign({ labels: ["time", "p50", "p95", "p99"], colors: ["#0972d3", "#8d6605", "#d91515"], labelsDiv: root.querySelector('[data-legend="lt-latency"]') }, common));
    } else {
      rpsChart.updateOptions({ file: rps });
      latChart.updateOptions({ file: lat });
    }
    if (st.report) {
      state.report = st.report;
      var r = st.report;
      text("lt-requests", r.requests);
      text("lt-failures", r.failures);
      text("lt-rps", f1(r.rps) + " (average)");
      text("lt-latency", f1(r.p50) + " / " + f1(r.p95) + " / " + f1(r.p99));
      document.getElementById("lt-report").innerHTML = table("Status codes", r.codes) + table("Errors", r.errors) + table("Responses per instance (X-Instance-Id)", r.instances);
      var stop = document.getElementById("stop");
      if (stop) stop.remove();
    }
  }

  function poll() {
    fetch("/console/loadtest/" + encodeURIComponent(id) + "/state", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (st) { draw(st); if (st.running) setTimeout(poll, 1000); })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
