// The overview's timeline: six charts on one time axis (dygraphs,
// synchronized), fed by /console/timeline for the range and by the
// /console/live event stream each second; scaling activities and target
// health transitions are annotations whose text shows on hover, and lines
// under the charts. window.albaTimeline tells tests what is drawn.
(function () {
  "use strict";
  var root = document.getElementById("timeline");
  if (!root) return;
  document.querySelectorAll("form.select select").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });

  var lb = root.dataset.lb, group = root.dataset.group;
  var query = "lb=" + encodeURIComponent(lb) + "&group=" + encodeURIComponent(group);
  var seconds = 300;
  var points = [];          // Point objects, oldest first, one per second
  var markers = [];         // Marker objects
  var instances = [];       // CPU series, by instance id
  var cpuTarget = 0;
  var charts = {};
  var status = document.getElementById("live-status");
  var state = window.albaTimeline = { points: 0, first: 0, last: 0, markers: [], updates: 0, errors: [], annotations: 0 };

  function num(v) { return v === null || v === undefined ? null : v; }
  var defs = {
    requests: { labels: ["requests/s"], row: function (p) { return [p.rps]; }, colors: ["#0972d3"] },
    latency: { labels: ["p50", "p99"], row: function (p) { return [num(p.p50), num(p.p99)]; }, colors: ["#037f0c", "#d91515"] },
    codes: { labels: ["2xx", "4xx", "5xx"], row: function (p) { return [p.c2xx, p.c4xx, p.c5xx]; }, colors: ["#037f0c", "#8d6605", "#d91515"] },
    hosts: { labels: ["healthy", "unhealthy"], row: function (p) { return [num(p.healthy), num(p.unhealthy)]; }, colors: ["#037f0c", "#d91515"], step: true },
    cpu: { labels: null, row: null, colors: null },
    capacity: { labels: ["desired", "in service"], row: function (p) { return [num(p.desired), num(p.inService)]; }, colors: ["#ff9900", "#0972d3"], step: true }
  };

  function cpuLabels() { return instances.concat(cpuTarget ? ["target"] : []); }
  function cpuRow(p) {
    var r = instances.map(function (id) { return p.cpu && p.cpu[id] !== undefined ? p.cpu[id] : null; });
    if (cpuTarget) r.push(cpuTarget);
    return r;
  }

  function rows(name) {
    var d = defs[name];
    var f = name === "cpu" ? cpuRow : d.row;
    return points.map(function (p) { return [new Date(p.t)].concat(f(p)); });
  }

  function labels(name) { return ["time"].concat(name === "cpu" ? cpuLabels() : defs[name].labels); }

  // Annotations sit on a drawn point: a marker goes on the second it
  // happened in, once that second is on the chart. Markers of one second
  // share an annotation (dygraphs keeps one per point).
  // drawnSecond is the newest drawn second at or before t: a second the
  // sampler missed (a busy machine) has no point to hang a marker on.
  function drawnSecond(t) {
    var lo = 0, hi = points.length - 1;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (points[mid].t <= t) lo = mid; else hi = mid - 1;
    }
    return points[lo].t;
  }

  function annotations(series) {
    if (!points.length) return [];
    var first = points[0].t, last = points[points.length - 1].t;
    var byX = {}, out = [];
    markers.forEach(function (m) {
      if (m.t < first || m.t >= last + 1000) return;
      var x = drawnSecond(m.t);
      var bad = m.kind === "health" && / -> (unhealthy|draining|unused)/.test(m.text);
      var a = byX[x];
      if (!a) {
        a = byX[x] = { series: series, x: x, shortText: "", text: "", width: 16, height: 16, tickHeight: 6, kinds: {} };
        out.push(a);
      }
      a.shortText += m.short;
      a.text += (a.text ? "\n" : "") + m.text;
      a.kinds[m.kind + (bad ? " bad" : "")] = true;
    });
    out.forEach(function (a) {
      a.width = Math.max(16, 9 * a.shortText.length);
      a.cssClass = Object.keys(a.kinds).sort().join(" ");
      delete a.kinds;
    });
    return out;
  }

  function build() {
    Object.keys(defs).forEach(function (name) {
      var el = root.querySelector('[data-chart="' + name + '"]');
      if (!el) return;
      var d = defs[name];
      var opts = {
        labels: labels(name), legend: "always", labelsSeparateLines: false, includeZero: true, strokeWidth: 1.5,
        connectSeparatedPoints: name === "cpu", stepPlot: !!d.step, axisLabelFontSize: 11, labelsKMB: true,
        colors: name === "cpu" ? undefined : d.colors, gridLineColor: "#e9ebed", xRangePad: 0, yRangePad: 4,
        labelsDiv: root.querySelector('[data-legend="' + name + '"]'), axes: { y: { axisLabelWidth: 44 } }
      };
      if (name === "cpu") {
        opts.valueRange = [0, 105];
        if (cpuTarget) opts.series = { target: { strokePattern: [6, 4], color: "#5f6b7a", strokeWidth: 1 } };
      }
      var data = rows(name);
      if (!data.length) data = [[new Date(), ].concat(labels(name).slice(1).map(function () { return null; }))];
      if (charts[name]) charts[name].destroy();
      charts[name] = new Dygraph(el, data, opts);
    });
    var list = Object.keys(charts).map(function (k) { return charts[k]; });
    if (list.length > 1 && Dygraph.synchronize) Dygraph.synchronize(list, { zoom: true, selection: true, range: false });
    annotate();
  }

  function annotate() {
    if (charts.requests) {
      var a = annotations("requests/s");
      charts.requests.setAnnotations(a);
      state.annotations = a.length;
    }
    if (charts.cpu && instances.length) charts.cpu.setAnnotations(annotations(instances[0]));
    if (charts.capacity) charts.capacity.setAnnotations(annotations("desired"));
  }

  function update() {
    // A node that has just started has no second to draw yet: the charts
    // keep their placeholder row.
    if (points.length) Object.keys(charts).forEach(function (name) {
      charts[name].updateOptions({ file: rows(name) });
    });
    annotate();
    state.points = points.length;
    state.last = points.length ? points[points.length - 1].t : 0;
    state.first = points.length ? points[0].t : 0;
    state.updates++;
  }

  function addPoint(p) {
    if (points.length && p.t <= points[points.length - 1].t) return false;
    var grew = false;
    if (p.cpu) Object.keys(p.cpu).forEach(function (id) {
      if (instances.indexOf(id) < 0) { instances.push(id); instances.sort(); grew = true; }
    });
    points.push(p);
    var cutoff = p.t - seconds * 1000;
    while (points.length && points[0].t < cutoff) points.shift();
    return grew;
  }

  var list = document.getElementById("markers");
  function addMarker(m) {
    markers.push(m);
    state.markers.push({ t: m.t, kind: m.kind, text: m.text });
    if (!list) return;
    var li = document.createElement("li");
    li.className = m.kind;
    var b = document.createElement("b");
    b.textContent = new Date(m.t).toLocaleTimeString();
    li.appendChild(b);
    li.appendChild(document.createTextNode(m.text));
    list.insertBefore(li, list.firstChild);
  }

  var source = null;
  function connect() {
    if (source) source.close();
    source = new EventSource("/console/live?" + query);
    source.addEventListener("open", function () { status.textContent = "live, second by second"; status.className = "live on"; });
    source.addEventListener("error", function () { status.textContent = "reconnecting…"; status.className = "live"; });
    source.addEventListener("point", function (e) {
      var p = JSON.parse(e.data);
      if (addPoint(p)) build(); else update();
    });
    source.addEventListener("marker", function (e) {
      addMarker(JSON.parse(e.data));
      annotate();
    });
  }

  function load() {
    fetch("/console/timeline?" + query + "&seconds=" + seconds, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("timeline: " + r.status); return r.json(); })
      .then(function (tl) {
        points = []; markers = []; instances = []; state.markers = [];
        if (list) list.textContent = "";
        cpuTarget = tl.selection.cpuTarget || 0;
        (tl.points || []).forEach(addPoint);
        (tl.markers || []).forEach(addMarker);
        build();
        update();
        connect();
      })
      .catch(function (err) { state.errors.push(String(err)); status.textContent = String(err); });
  }

  document.querySelectorAll(".range button").forEach(function (b) {
    b.addEventListener("click", function () {
      document.querySelectorAll(".range button").forEach(function (o) { o.classList.remove("on"); });
      b.classList.add("on");
      seconds = parseInt(b.dataset.seconds, 10);
      load();
    });
  });
  load();
})();
