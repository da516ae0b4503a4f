/* The strategy explorer: switches between drawings and numbers precomputed by scripts/explorer.py.
 *
 * window.EXPLORER_DATA (explorer/data.js) holds the grid: strategies with their parameters' values,
 * and one entry per grid point, keyed "tbptt|k1=3|k2=5|T=12|R=1", naming its two SVG drawings and
 * holding its plan and numbers.  The state lives in the menus and in the address's #fragment, so a
 * view can be linked.  No network: everything comes from files beside this page (file:// works).
 */
(function () {
  "use strict";
  var data = window.EXPLORER_DATA;
  var DEFAULT_KEY = "tbptt|k1=3|k2=5|T=12|R=1";
  var COLOURS = ["#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#fb9a99", "#ffff99"]; // rnn.viz.WINDOW_COLOURS

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function svgEl(tag, attrs) {
    var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function fmt(x, digits) {
    if (x === null || x === undefined) { return "–"; }
    if (x === 0) { return "0"; }
    var a = Math.abs(x);
    return (a >= 1e-3 && a < 1e4) ? x.toPrecision(digits || 3) : x.toExponential((digits || 3) - 1);
  }
  function strategyOf(name) {
    for (var i = 0; i < data.strategies.length; i++) { if (data.strategies[i].name === name) { return data.strategies[i]; } }
    return null;
  }
  function options(select, values, labels) {
    select.innerHTML = "";
    values.forEach(function (v, i) { select.appendChild(el("option", {value: v, text: labels ? labels[i] : v})); });
  }

  // -- the menus ------------------------------------------------------------------------------
  function keyOf(state) {
    var s = strategyOf(state.strategy);
    var parts = [s.name];
    s.params.forEach(function (p) { parts.push(p.name + "=" + state.params[p.name]); });
    parts.push("T=" + state.T, "R=" + state.R);
    return parts.join("|");
  }
  function stateOf(key) {
    var parts = key.split("|"), state = {strategy: parts[0], params: {}, T: null, R: null};
    parts.slice(1).forEach(function (part) {
      var kv = part.split("=");
      if (kv[0] === "T") { state.T = kv[1]; } else if (kv[0] === "R") { state.R = kv[1]; } else { state.params[kv[0]] = kv[1]; }
    });
    return state;
  }
  function readMenus() {
    var state = {strategy: $("strategy").value, params: {}, T: $("T").value, R: $("radius").value};
    strategyOf(state.strategy).params.forEach(function (p) {
      var select = $("param-" + p.name);
      state.params[p.name] = select ? select.value : (p.default !== null ? p.default : p.values[0]);
    });
    return state;
  }
  function buildParamMenus(strategy) {
    var holder = $("params");
    holder.innerHTML = "";
    strategy.params.forEach(function (p) {
      var select = el("select", {id: "param-" + p.name, name: p.name, "data-param": p.name});
      options(select, p.values);
      select.addEventListener("change", function () { choose(p.name); });
      holder.appendChild(el("label", {"class": "explorer-control"}, [p.name + " ", select]));
    });
  }
  function setMenus(state) {
    if ($("strategy").value !== state.strategy || !$("params").dataset.strategy ||
        $("params").dataset.strategy !== state.strategy) {
      $("strategy").value = state.strategy;
      buildParamMenus(strategyOf(state.strategy));
      $("params").dataset.strategy = state.strategy;
    }
    Object.keys(state.params).forEach(function (name) { $("param-" + name).value = state.params[name]; });
    $("T").value = state.T;
    $("radius").value = state.R;
    markUnavailable(state);
  }
  /* Grey out the values that make no grid point with the other current choices (TBPTT needs k2 >= k1). */
  function markUnavailable(state) {
    strategyOf(state.strategy).params.forEach(function (p) {
      Array.prototype.forEach.call($("param-" + p.name).options, function (option) {
        var trial = JSON.parse(JSON.stringify(state));
        trial.params[p.name] = option.value;
        option.disabled = !(keyOf(trial) in data.entries);
      });
    });
  }
  /* The grid point nearest the menus that keeps the value just chosen (changed: a parameter name or null). */
  function repair(state, changed) {
    if (keyOf(state) in data.entries) { return state; }
    var s = strategyOf(state.strategy), free = s.params.filter(function (p) { return p.name !== changed; });
    var best = null;
    (function search(i, trial) {
      if (best) { return; }
      if (i === free.length) { if (keyOf(trial) in data.entries) { best = JSON.parse(JSON.stringify(trial)); } return; }
      var p = free[i], start = p.values.indexOf(state.params[p.name]);
      var order = p.values.slice(Math.max(start, 0)).concat(p.values.slice(0, Math.max(start, 0)));
      order.forEach(function (v) { trial.params[p.name] = v; search(i + 1, trial); });
      trial.params[p.name] = state.params[p.name];
    })(0, JSON.parse(JSON.stringify(state)));
    return best;
  }
  function defaultState(name) {
    var s = strategyOf(name), state = {strategy: name, params: {}, T: $("T").value, R: $("radius").value};
    s.params.forEach(function (p) { state.params[p.name] = p.default !== null ? p.default : p.values[Math.floor((p.values.length - 1) / 2)]; });
    return repair(state, null);
  }
  function choose(changed) {
    var state = changed === "strategy" ? defaultState($("strategy").value) : repair(readMenus(), changed);
    show(state);
  }

  // -- drawing one grid point ---------------------------------------------------------------------
  function show(state) {
    var key = keyOf(state), entry = data.entries[key];
    setMenus(state);
    if (window.history && window.history.replaceState) {
      try { window.history.replaceState(null, "", "#" + encodeURIComponent(key)); } catch (e) { /* some file:// pages refuse */ }
    }
    var strategy = strategyOf(state.strategy);
    $("strategy-doc").textContent = strategy.doc + "  Spec: " + entry.spec + ".";
    var note = $("online-note");
    if (entry.plan.carries) {
      note.hidden = false;
      note.textContent = "No window: " + entry.plan.carries + " instead of unrolling, so training keeps no graph of the " +
        "past and nothing is cut or scaled. The drawings show the dependencies each update's gradient covers " +
        "(all the way back to h0), the same graph full BPTT unrolls.";
    } else if (entry.plan.checkpoint) {
      note.hidden = false;
      note.textContent = "Checkpointed BPTT keeps h_t only every " + entry.plan.checkpoint + " steps and recomputes each " +
        "segment during the backward: the same gradient as full BPTT, with less memory and one more forward pass.";
    } else {
      note.hidden = true;
      note.textContent = "";
    }
    var graph = $("graph");
    graph.setAttribute("data-key", key);
    $("graph-compact").src = "explorer/" + entry.compact;
    $("graph-heat").src = "explorer/" + entry.heat;
    $("command-compact").textContent = entry.commands.compact;
    $("command-heat").textContent = entry.commands.heat;
    drawPlan(entry.plan);
    drawNorms(entry);
    drawStats(entry);
  }

  function drawPlan(plan) {
    var table = el("table", {"class": "explorer-timeline"}), owner = {}, covered = {};
    plan.updates.forEach(function (u, i) {
      for (var t = u.first; t <= u.t; t++) { owner[t] = i; }
      for (var s = u.reach + 1; s <= u.t; s++) { (covered[s] = covered[s] || []).push(i); }
    });
    var rows = [["step t"], ["edge h(t-1) → h(t)"], ["loss l_t goes to"], ["windows over t"], ["update after t"]];
    for (var t = 1; t <= plan.T; t++) {
      var edge = plan.edges[t - 1];
      rows[0].push(String(t));
      rows[1].push(edge === 1 ? "→" : edge === 0 ? "✂" : "× " + fmt(edge, 3));
      rows[2].push({text: "U" + (owner[t] + 1), colour: COLOURS[owner[t] % COLOURS.length]});
      rows[3].push((covered[t] || []).map(function (i) { return "W" + (i + 1); }).join(" "));
      var here = plan.updates.map(function (u, i) { return u.t === t ? "U" + (i + 1) : null; }).filter(Boolean);
      rows[4].push(here.join(" "));
    }
    rows.forEach(function (row, r) {
      var tr = el("tr");
      row.forEach(function (cell, c) {
        var td = el(c === 0 || r === 0 ? "th" : "td", {text: typeof cell === "string" ? cell : cell.text});
        if (typeof cell === "object") { td.style.background = cell.colour; }
        if (r === 1 && cell === "✂") { td.className = "explorer-cut"; }
        if (r === 1 && typeof cell === "string" && cell.indexOf("×") === 0) { td.className = "explorer-scaled"; }
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
    var updates = el("table", {"class": "explorer-updates"}, [el("tr", {}, [
      el("th", {text: "update"}), el("th", {text: "after step"}), el("th", {text: "losses"}),
      el("th", {text: "reaches back to"}), el("th", {text: "steps backpropagated"})])]);
    plan.updates.forEach(function (u, i) {
      updates.appendChild(el("tr", {}, [
        el("td", {text: "U" + (i + 1), style: "background:" + COLOURS[i % COLOURS.length]}),
        el("td", {text: String(u.t)}), el("td", {text: "l" + u.first + " … l" + u.t}),
        el("td", {text: "h" + u.reach}), el("td", {text: String(u.t - u.reach)})]));
    });
    var scaled = Object.keys(plan.scaled);
    var summary = plan.updates.length + " update(s); " +
      (plan.cuts.length ? "cut before step " + plan.cuts.join(", ") : "no cut") + "; " +
      (scaled.length ? scaled.length + " scaled edge(s)" : "no scaled edge") + ".";
    var holder = $("plan");
    holder.innerHTML = "";
    holder.appendChild(el("p", {text: summary}));
    holder.appendChild(el("div", {"class": "explorer-scroll"}, [table]));
    holder.appendChild(el("div", {"class": "explorer-scroll"}, [updates]));
  }

  function drawNorms(entry) {
    var T = entry.plan.T, values = entry.norms.concat(entry.full_norms).filter(function (v) { return v > 0; });
    var low = Math.floor(Math.log10(Math.min.apply(null, values))), high = Math.ceil(Math.log10(Math.max.apply(null, values)));
    if (high === low) { high = low + 1; }
    var W = 640, H = 220, left = 56, bottom = 30, top = 12, plotH = H - bottom - top, step = (W - left - 10) / T;
    var svg = svgEl("svg", {viewBox: "0 0 " + W + " " + H, width: "100%", role: "img",
                            "aria-label": "norm of dL/dh_t for each step, strategy and full BPTT"});
    function y(v) { return top + plotH * (1 - (Math.log10(v) - low) / (high - low)); }
    for (var d = low; d <= high; d++) {
      svg.appendChild(svgEl("line", {x1: left, x2: W - 10, y1: y(Math.pow(10, d)), y2: y(Math.pow(10, d)), "class": "grid"}));
      var label = svgEl("text", {x: left - 6, y: y(Math.pow(10, d)) + 4, "text-anchor": "end"});
      label.textContent = "1e" + d;
      svg.appendChild(label);
    }
    for (var t = 1; t <= T; t++) {
      var x = left + (t - 1) * step;
      [[entry.full_norms[t - 1], "full", 0.1], [entry.norms[t - 1], "strategy", 0.5]].forEach(function (bar) {
        var v = bar[0];
        if (v > 0) {
          svg.appendChild(svgEl("rect", {x: x + bar[2] * step, y: y(v), width: step * 0.38, height: top + plotH - y(v), "class": bar[1]}));
        }
      });
      var tick = svgEl("text", {x: x + step / 2, y: H - 10, "text-anchor": "middle"});
      tick.textContent = String(t);
      svg.appendChild(tick);
    }
    var legend = el("p", {"class": "explorer-legend"}, [
      el("span", {"class": "swatch full"}), " full BPTT   ", el("span", {"class": "swatch strategy"}), " " + entry.spec +
      (entry.norms.some(function (v) { return !(v > 0); }) ? "  (no bar: no gradient reaches h_t)" : "")]);
    var holder = $("norms");
    holder.innerHTML = "";
    holder.appendChild(svg);
    holder.appendChild(legend);
  }

  function drawStats(entry) {
    var holder = $("stats"), draw = entry.draw;
    holder.innerHTML = "";
    var rows = [["relative error of this gradient, ||ĝ − g|| / ||g||", fmt(draw.relative_error)],
                ["cosine with the full gradient", fmt(draw.cosine, 4)]];
    Object.keys(draw.per_parameter).forEach(function (name) {
      rows.push(["relative error of dL/d" + name, fmt(draw.per_parameter[name])]);
    });
    var est = entry.estimator ? data.estimators[entry.estimator] : null;
    if (est) {
      rows.push(["draws measured", String(est.draws) + " (seeds 0 … " + (est.draws - 1) + "; this is seed " + entry.draw_index + ")"]);
      rows.push(["bias: relative error of the mean of the draws", fmt(est.mean_error)]);
      rows.push(["standard error of that mean (if unbiased)", fmt(est.standard_error)]);
      rows.push(["error of one draw (root mean square)", fmt(est.draw_error)]);
      rows.push(["variance: E||ĝ − E ĝ||² / ||g||²", fmt(est.relative_variance)]);
    } else {
      rows.push(["bias", entry.draw.relative_error < 1e-9 ? "none (the full gradient, to round-off)" : "the error above, every time"]);
      rows.push(["variance", "0 (a deterministic plan: the same gradient every time)"]);
    }
    var table = el("table", {"class": "explorer-numbers"});
    rows.forEach(function (r) { table.appendChild(el("tr", {}, [el("th", {text: r[0]}), el("td", {text: r[1]})])); });
    holder.appendChild(table);
    if (est) { holder.appendChild(strip(est, entry.draw_index)); }
  }

  /* The relative error of each draw as a dot on a line; the chosen seed's draw ringed. */
  function strip(est, chosen) {
    var errors = est.draw_errors, max = Math.max.apply(null, errors.concat([est.mean_error])) || 1;
    var W = 640, H = 70, left = 20, right = 20;
    var svg = svgEl("svg", {viewBox: "0 0 " + W + " " + H, width: "100%", role: "img",
                            "aria-label": "relative error of each of the draws"});
    function x(v) { return left + (W - left - right) * v / max; }
    svg.appendChild(svgEl("line", {x1: left, x2: W - right, y1: 30, y2: 30, "class": "axis"}));
    errors.forEach(function (e, i) {
      svg.appendChild(svgEl("circle", {cx: x(e), cy: 30 + ((i * 7) % 13) - 6, r: i === chosen ? 6 : 3,
                                       "class": i === chosen ? "chosen" : "draw"}));
    });
    svg.appendChild(svgEl("line", {x1: x(est.mean_error), x2: x(est.mean_error), y1: 12, y2: 48, "class": "mean"}));
    [[0, "0"], [max, fmt(max, 2)]].forEach(function (tick) {
      var t = svgEl("text", {x: x(tick[0]), y: H - 4, "text-anchor": "middle"});
      t.textContent = tick[1];
      svg.appendChild(t);
    });
    var figure = el("figure", {"class": "explorer-strip"}, [svg, el("figcaption", {
      text: "Relative error of each draw (dots; the ringed one is this seed's) and of their mean (the bar)."})]);
    return figure;
  }

  // -- start ------------------------------------------------------------------------------------
  function start() {
    if (!data) {
      $("strategy-doc").textContent = "The explorer's data (explorer/data.js) did not load: build the site with ./run docs.";
      return;
    }
    options($("strategy"), data.strategies.map(function (s) { return s.name; }),
            data.strategies.map(function (s) { return s.name + ": " + s.summary.split(":")[0]; }));
    options($("T"), data.steps);
    options($("radius"), data.radii);
    $("strategy").addEventListener("change", function () { choose("strategy"); });
    $("T").addEventListener("change", function () { choose("T"); });
    $("radius").addEventListener("change", function () { choose("R"); });
    function fromAddress() {
      var wanted = decodeURIComponent((window.location.hash || "").slice(1));
      return wanted in data.entries ? wanted : null;
    }
    show(stateOf(fromAddress() || DEFAULT_KEY));
    window.addEventListener("hashchange", function () {  // a link to another grid point, or back and forward
      var wanted = fromAddress();
      if (wanted && wanted !== $("graph").getAttribute("data-key")) { show(stateOf(wanted)); }
    });
  }
  start();
})();
