// atoguard dashboard: draws the campaign-rate charts of the overview with
// uPlot (assets/uPlot.iife.min.js), and the quick-select buttons of the
// incident page's bulk actions. Loaded as a file: the CSP allows no
// inline script.
"use strict";

(function () {
  const box = document.getElementById("charts");
  if (!box || typeof uPlot === "undefined") {
    return;
  }
  const plots = [];

  function shadeIncidents(windows) {
    return function (u) {
      const ctx = u.ctx;
      ctx.save();
      ctx.fillStyle = "rgba(192, 38, 45, 0.13)";
      for (const w of windows) {
        const x0 = Math.max(u.valToPos(w.from, "x", true), u.bbox.left);
        const x1 = Math.min(u.valToPos(w.to, "x", true), u.bbox.left + u.bbox.width);
        if (x1 > x0) {
          ctx.fillRect(x0, u.bbox.top, Math.max(x1 - x0, 2), u.bbox.height);
        }
      }
      ctx.restore();
    };
  }

  function draw(data) {
    for (const p of plots) {
      p.destroy();
    }
    plots.length = 0;
    box.textContent = "";
    if (data.t.length < 2) {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = "データ収集中… collecting samples (every 10 s)";
      box.appendChild(p);
      return;
    }
    const width = Math.max(320, Math.floor((box.clientWidth - 16) / Math.min(data.series.length, 3)) - 12);
    for (const s of data.series) {
      const el = document.createElement("div");
      el.className = "chart";
      box.appendChild(el);
      const opts = {
        title: s.label,
        width: width,
        height: 220,
        scales: { x: { time: true } },
        series: [
          {},
          { label: "検知閾値 opens at", stroke: "#c0262d", dash: [6, 4], width: 1, points: { show: false } },
          { label: "平常 baseline", stroke: "#1d7a3a", width: 1, points: { show: false } },
          { label: "現在 observed / min", stroke: "#1f5fbf", width: 2, points: { show: false } },
        ],
        bands: [{ series: [1, 2], fill: "rgba(29, 122, 58, 0.12)" }],
        hooks: { drawClear: [shadeIncidents(data.incidents)] },
      };
      plots.push(new uPlot(opts, [data.t, s.open, s.expected, s.observed], el));
    }
  }

  function load() {
    fetch(box.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) {
          throw new Error("HTTP " + r.status);
        }
        return r.json();
      })
      .then(draw)
      .catch(function (err) {
        box.textContent = "グラフを読み込めません could not load the chart: " + err.message;
      });
  }
  load();
})();

// Quick selection of the incident page's accounts for a bulk action: the
// buttons tick the shown rows by outcome. Without script the checkboxes
// and the "every account to reset" scope still work.
(function () {
  const bar = document.getElementById("quick-select");
  if (!bar) {
    return;
  }
  const boxes = Array.from(document.querySelectorAll('input[type=checkbox][name=account][form="bulk-form"]'));
  const count = document.getElementById("selected-count");
  const scope = document.querySelector('#bulk-form input[name=scope][value=selected]');
  function update() {
    const n = boxes.filter(function (b) { return b.checked; }).length;
    count.textContent = n + " 件選択 selected";
  }
  bar.addEventListener("click", function (ev) {
    const which = ev.target.dataset ? ev.target.dataset.select : undefined;
    if (!which) {
      return;
    }
    for (const b of boxes) {
      if (which === "all") {
        b.checked = true;
      } else if (which === "none") {
        b.checked = false;
      } else if (which === "at-risk") {
        b.checked = b.dataset.atRisk === "1";
      } else {
        b.checked = b.dataset.outcome === which;
      }
    }
    if (scope) {
      scope.checked = true;
    }
    update();
  });
  for (const b of boxes) {
    b.addEventListener("change", update);
  }
  bar.hidden = false;
  update();
})();
