// The console's own script: draws the Overview's hourly charts (uPlot) from each chart
// element's data-chart attribute. No inline script anywhere (Content-Security-Policy).
(function () {
  "use strict";
  var COLORS = { accepted: "#1f5fa8", delivered: "#2e7d32", retrying: "#c77700", dead: "#b3261e" };

  function draw(el) {
    if (el.dataset.drawn || typeof uPlot === "undefined") return;
    var d = JSON.parse(el.dataset.chart);
    var names = Object.keys(COLORS);
    var series = [{}].concat(names.map(function (n) {
      return { label: d.labels[n], stroke: COLORS[n], width: 2, points: { show: false } };
    }));
    var data = [d.x].concat(names.map(function (n) { return d.series[n]; }));
    var width = Math.max(240, el.clientWidth || 320);
    el.dataset.drawn = "1";
    new uPlot({ width: width, height: 180, series: series, axes: [{}, { size: 44 }], legend: { live: false } }, data, el);
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSwap", function (e) { drawAll(e.target); });
})();
