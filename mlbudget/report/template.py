# ruff: noqa: E501  (HTML template lines)
"""The Jinja2 template of report.html: one self-contained page (styles, chart data and plotly.js inline).

When every chart has been drawn the page sets ``data-rendered`` on ``<body>``
to the number of charts; a script error sets ``data-errors``. The browser test
reads both.
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mlbudget report: {{ budget.name }} {{ budget.version }}</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 0 2em 2em; color: #222; max-width: 1400px; }
 nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #ddd; padding: 0.5em 0; z-index: 10;
       font-size: 0.9em; }
 nav a { margin-right: 1em; color: #1f4e99; text-decoration: none; }
 section { padding-top: 0.5em; }
 h1 { margin: 0.6em 0 0.2em; } h2 { border-bottom: 1px solid #eee; padding-bottom: 0.2em; }
 table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
 th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
 th { background: #f3f3f3; }
 td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
 td.breaches { min-width: 22em; }
 .scroll { overflow-x: auto; }
 .ok { color: #17692e; } .bad { color: #b00020; } .warn { color: #a05a00; } .muted { color: #777; }
 .decision { border-left: 4px solid #444; padding: 0.5em 1em; background: #fafafa; }
 .pill { display: inline-block; padding: 0.1em 0.6em; border-radius: 1em; background: #eee; font-weight: 600; }
 .pill.promoted { background: #d7f0dc; } .pill.no_fit, .pill.invalid_window, .pill.rolled_back { background: #f8d7da; }
 .swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px; margin-right: 0.4em;
           vertical-align: -0.1em; }
 .plot { width: 100%; min-height: 200px; }
 .grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1em; }
 code { font-size: 0.85em; }
 details { margin: 0.5em 0 1em; } summary { cursor: pointer; color: #a05a00; }
 pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; font-size: 0.85em; }
</style>
<script>
 window.mlbudgetErrors = [];
 window.addEventListener("error", function (e) { window.mlbudgetErrors.push(String(e.message || e)); });
</script>
{% if plotly_js %}<script>{{ plotly_js }}</script>{% endif %}
</head>
<body>
<nav>
 <a href="#decision">Decision</a><a href="#since">Since the last cycle</a><a href="#trends">Trends</a>
 <a href="#latency">Latency</a><a href="#tradeoff">Trade-off</a><a href="#candidates">Candidates</a>
 <a href="#detection">Detection</a><a href="#plan">Plan</a><a href="#hardware">Hardware</a>
</nav>
<h1>{{ budget.name }} &mdash; budget {{ budget.version }}</h1>
<p>Owner {{ budget.owner }}. Budget sha256 <code>{{ budget_sha256 }}</code>.
Latency limits at concurrency {{ budget.limits.latency.concurrency }}:
{% for p, v in latency_limits %}{{ p }} &le; {{ v }} ms{% if not loop.last %}, {% endif %}{% else %}none{% endfor %};
warn within {{ "%.0f"|format(budget.warn_margin * 100) }} % of a limit.</p>

<section id="decision">
<h2>Decision</h2>
<div class="decision">
{% if decision %}
<p>{% if registry.status %}<span class="pill {{ registry.status }}">{{ registry.status }}</span> {% endif %}
<strong>Winner: {{ decision.winner if decision.winner else "none" }}</strong>
 ({{ "promote" if decision.promote else "no promotion" }}){% if registry.version %}, registered as version
 {{ registry.version }}{% endif %}</p>
<p>{{ decision.rationale }}</p>
{% else %}<p>No selection was made in this cycle.</p>{% endif %}
{% if rollback %}<p><span class="pill rolled_back">rolled back</span> <strong>champion moved from version
 {{ rollback["from"] }} back to version {{ rollback["to"] }}</strong>: {{ rollback.reason }}</p>{% endif %}
</div>
</section>

<section id="ledger">
<h2>Ledger entries of this cycle</h2>
{% if ledger %}
<table>
<tr><th>time</th><th>action</th><th>version</th><th>before</th><th>who</th><th>run id</th><th>reason</th></tr>
{% for e in ledger %}<tr><td>{{ e.at }}</td><td>{{ e.action }}</td><td>{{ e.version or "" }}</td>
<td>{{ e.previous or "" }}</td><td>{{ e.actor or "" }}</td><td>{{ e.run_id or "" }}</td><td>{{ e.reason }}</td></tr>
{% endfor %}</table>
{% else %}<p class="muted">This cycle wrote no ledger entry.</p>{% endif %}
</section>

<section id="since">
<h2>Since the last cycle</h2>
{% if since %}
<p class="muted">Compared with cycle <code>{{ since.before.cycle_key or "?" }}</code> (window {{ since.before.window or "?" }},
budget {{ since.before.budget_version }}).</p>
<table>
<tr><th>champion</th><td>
{% if since.champion_changed %}version {{ since.champion_before.version }} ({{ since.champion_before.generator }})
&rarr; <strong>version {{ since.champion_after.version }} ({{ since.champion_after.generator }})</strong>, {{ since.champion_after.how }}
{% else %}version {{ since.champion_after.version }} ({{ since.champion_after.generator }}), unchanged{% endif %}</td></tr>
<tr><th>budget</th><td>
{% if since.budget_changes %}{{ since.budget_changes|length }} field(s) changed (below)
{% else %}unchanged ({{ since.after.budget_version }}){% endif %}</td></tr>
<tr><th>findings</th><td>
<span class="bad">{{ since.findings_new|length }} new</span>,
<span class="ok">{{ since.findings_resolved|length }} resolved</span>,
<span class="warn">{{ since.findings_open|length }} still open</span></td></tr>
</table>
{% if since.budget_changes %}
<table><tr><th>budget field</th><th>before</th><th>after</th><th>change</th></tr>
{% for c in since.budget_changes %}
<tr><td><code>{{ c.field }}</code></td><td>{{ fmt(c.old) }}</td><td>{{ fmt(c.new) }}</td>
<td class="{{ 'bad' if c.tightens else ('ok' if c.tightens == False else '') }}">
{{ "tightened" if c.tightens else ("loosened" if c.tightens == False else c.direction) }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if since.findings_new or since.findings_resolved %}
<table><tr><th></th><th>kind</th><th>metric</th><th>before</th><th>now</th></tr>
{% for label, items, cls in [("new", since.findings_new, "bad"), ("resolved", since.findings_resolved, "ok")] %}
{% for f in items %}
<tr><td class="{{ cls }}">{{ label }}</td><td>{{ f.kind }}</td><td><code>{{ f.metric }}</code></td>
<td>{{ f.message_before or "–" }}</td><td>{{ f.message_after or "–" }}</td></tr>
{% endfor %}{% endfor %}
</table>
{% endif %}
{% if since.findings_open %}
<details><summary>{{ since.findings_open|length }} finding(s) still open</summary>
<table><tr><th>kind</th><th>metric</th><th>before</th><th>now</th></tr>
{% for f in since.findings_open %}
<tr><td>{{ f.kind }}</td><td><code>{{ f.metric }}</code></td>
<td>{{ f.message_before or "–" }}</td><td>{{ f.message_after or "–" }}</td></tr>
{% endfor %}</table>
</details>
{% endif %}
{% if since.drift_moves %}
<p>Features whose drift moved most (statistic &divide; threshold; 1 is the threshold):</p>
<table><tr><th>feature</th><th>method</th><th>before</th><th>now</th><th>&times; threshold before &rarr; now</th></tr>
{% for m in since.drift_moves %}
<tr><td>{{ m.feature }}</td><td>{{ m.method }}</td><td class="num">{{ fmt(m.before) }}</td><td class="num">{{ fmt(m.after) }}</td>
<td class="num {{ 'bad' if m.drifted_after else '' }}">{{ fmt(m.ratio_before) }} &rarr; {{ fmt(m.ratio_after) }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if since.metrics %}
<table><tr><th>metric</th><th>before</th><th>now</th></tr>
{% for m in since.metrics %}<tr><td title="{{ m.name }}">{{ metric_label(m.name) }}</td><td class="num">{{ fmt(m.before) }}</td>
<td class="num">{{ fmt(m.after) }}</td></tr>{% endfor %}
</table>
{% endif %}
{% else %}<p class="muted">No earlier reported cycle of this budget in MLflow: nothing to compare with.</p>{% endif %}
</section>

<section id="trends">
<h2>Trends</h2>
{% if figs.trend %}{{ divs.trend }}
<p class="muted">One point per reported cycle of this budget, read from its MLflow runs; the same chart as
<code>mlbudget report trend --budget FILE</code>.</p>
{% else %}<p class="muted">No cycle history in MLflow for this budget yet.</p>{% endif %}
</section>

<section id="latency">
<h2>Latency</h2>
{% if figs.latency_cdf %}{{ divs.latency_cdf }}
<p class="muted">Each candidate's calls at the budget's concurrency: a point (x ms, y %) says y % of calls took at most
x ms. A limit <em>pN &le; L</em> (red cross and dashed line) asks the curve to reach N % at or left of L; the orange
dotted lines are the warn levels ({{ "%.0f"|format(budget.warn_margin * 100) }} % inside each limit).</p>{% endif %}
{% if figs.latency_levels %}{{ divs.latency_levels }}
<p class="muted">Percentiles at each benchmarked concurrency; the red bar is the limit, which applies at concurrency
{{ budget.limits.latency.concurrency }}.</p>{% endif %}
{% if not (figs.latency_cdf or figs.latency_levels) %}<p class="muted">Nothing was benchmarked in this cycle.</p>{% endif %}
</section>
{% if environment %}
<section id="environment">
<h2>Environment</h2>
<p class="{{ 'warn' if environment.status == 'changed' else 'muted' }}">{{ environment.message }}</p>
{% if environment.changed %}<table><tr><th>what</th><th>when the champion was measured</th><th>now</th></tr>
{% for name, pair in environment.changed.items() %}<tr><td>{{ name }}</td><td>{{ pair[0] }}</td><td>{{ pair[1] }}</td></tr>
{% endfor %}</table>{% endif %}
{% if environment.status == 'changed' and environment.figures %}<table><tr><th>champion at concurrency
{{ environment.concurrency }}</th><th>before</th><th>after</th></tr>
{% for key, old, new in environment.figures %}<tr><td>{{ key }}</td><td>{{ fmt(old) }}</td><td>{{ fmt(new) }}</td></tr>
{% endfor %}</table>{% endif %}
</section>
{% endif %}
{% if sweep %}
<section id="batch-size">
<h2>Batch size</h2>
{% if sweep.models %}<table><tr><th>model</th><th>largest batch within the budget</th><th>rows/s there</th>
<th>batch sizes measured</th></tr>
{% for m in sweep.models %}<tr><td>{{ m.name }}</td>
<td>{% if m.largest_fitting %}{{ m.largest_fitting }}{% else %}none fits{% endif %}</td>
<td>{% if m.rows_per_s %}{{ "%.0f"|format(m.rows_per_s) }}{% else %}&ndash;{% endif %}</td>
<td>{{ m.points|map(attribute="batch")|join(", ") }}{% if m.fixed_batch %} (fixed batch axis){% endif %}</td></tr>
{% endfor %}</table>{% endif %}
{% if figs.batch_sweep %}{{ divs.batch_sweep }}{% endif %}
<p class="muted">{{ sweep.note }}</p>
</section>
{% endif %}

<section id="tradeoff">
<h2>Trade-off</h2>
{% if figs.tradeoff_size or figs.tradeoff_quality %}
<div class="grid2">
{% if figs.tradeoff_size %}{{ divs.tradeoff_size }}{% endif %}
{% if figs.tradeoff_quality %}{{ divs.tradeoff_quality }}{% endif %}
</div>
<p class="muted">Green box: what the budget allows on the two axes (the quality bound is the stricter of the budget's
<code>minimum</code> and the champion's score less <code>max_drop</code>; for a loss or an error, of <code>maximum</code>
and the champion's score plus <code>max_rise</code>); orange dotted: the p95 warn level. Filled markers
fit every limit of the budget, open ones break at least one (hover for which); the winner is ringed in black.
Dotted line: the Pareto front across all candidates, fitting or not. The table below names every candidate in its
chart colour.</p>
{% else %}<p class="muted">No candidate was benchmarked at the budget's concurrency.</p>{% endif %}
</section>

<section id="candidates">
<h2>Candidates</h2>
{% if rows %}
<div class="scroll"><table><tr><th>candidate</th><th>generator</th><th>sha256</th><th>size MB</th>
<th>p50 / p95 / p99 ms @c={{ budget.limits.latency.concurrency }}</th><th>p95 95% CI</th>
<th>throughput rps</th><th>peak RSS MB</th><th>energy mJ/inference</th><th>quality</th><th>fits</th><th>Pareto</th><th>breaches</th></tr>
{% for r in rows %}
<tr><td><span class="swatch" style="background: {{ r.color }}"></span>{{ r.name }}{% if r.is_champion %} (champion){% endif %}</td><td>{{ r.generator }}</td>
<td><code>{{ r.sha }}</code></td><td class="num">{{ r.size }}</td><td class="num">{{ r.latency }}</td><td class="num">{{ r.ci }}</td>
<td class="num">{{ r.throughput }}</td><td class="num">{{ r.rss }}</td><td class="num">{{ r.energy }}</td><td class="num">{{ r.accuracy }}</td>
<td class="{{ 'ok' if r.fits else 'bad' }}">{{ r.fits_text }}</td><td>{{ r.pareto }}</td>
<td class="breaches">{% for b in r.breaches %}{{ b }}{% if not loop.last %}<br>{% endif %}{% endfor %}</td></tr>
{% endfor %}</table></div>
{% else %}<p>No candidates in this cycle.</p>{% endif %}
</section>

<section id="detection">
<h2>Detection</h2>
{% if validation %}
<p class="{{ 'ok' if validation.success else 'bad' }}">Validation: {{ validation.summary() }}</p>
{% if validation.failed %}<ul>{% for o in validation.failed %}<li>{{ o.message }}</li>{% endfor %}</ul>{% endif %}
{% endif %}
{% if detection %}
<table><tr><th>kind</th><th>status</th><th>metric</th><th>message</th></tr>
{% for f in detection.findings %}
<tr><td>{{ f.kind }}</td><td class="{{ status_class[f.status] }}">{{ f.status }}</td>
<td>{{ f.metric }}</td><td>{{ f.message }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if figs.drift %}{{ divs.drift }}{% endif %}
</section>

<section id="plan">
<h2>Plan</h2>
{% if plan %}
{% if plan.actions %}
<table><tr><th>candidate kind</th><th>why</th><th>forced</th></tr>
{% for a in plan.actions %}
<tr><td>{{ a.kind }}</td><td>{{ a.reason }}</td><td>{{ "yes" if a.get("forced") else "" }}</td></tr>
{% endfor %}</table>
{% elif plan.get("alerts") %}<p>No model action.</p>
{% else %}<p>No action: every finding is within budget.</p>{% endif %}
{% if plan.get("alerts") %}
<table><tr><th>alert (remains)</th><th>why</th></tr>
{% for a in plan.alerts %}
<tr><td class="bad">{{ a.kind }}</td><td>{{ a.reason }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if plan.get("skipped") %}
<table><tr><th>left out</th><th>why it cannot apply</th></tr>
{% for a in plan.skipped %}
<tr><td>{{ a.kind }}</td><td>{{ a.reason }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if plan.get("dry_run") %}<p>Dry run: the cycle stopped after planning.</p>{% endif %}
{% else %}<p class="muted">The cycle stopped before planning.</p>{% endif %}
</section>

<section id="hardware">
<h2>Hardware</h2>
{% if hardware %}
<p>{{ hardware.cpu_model }}; {{ hardware.cores_logical }} logical cores; flags {{ hardware.cpu_flags|join(", ") }};
ONNX Runtime {{ hardware.ort_version }} ({{ hardware.provider }}, intra {{ hardware.intra_op_threads }},
inter {{ hardware.inter_op_threads }}, optimisation {{ hardware.graph_optimization }}).</p>
{% else %}<p class="muted">Nothing was benchmarked.</p>{% endif %}
{% if extra_json %}
<h2>Details</h2>
<pre>{{ extra_json }}</pre>
{% endif %}
</section>

<script>
(function () {
  var figs = {{ figs_json }};
  var config = {{ plot_config }};
  var ids = Object.keys(figs);
  function done() { document.body.setAttribute("data-rendered", String(ids.length)); }
  function fail(e) {
    window.mlbudgetErrors.push(String(e && e.message ? e.message : e));
    document.body.setAttribute("data-errors", window.mlbudgetErrors.join(" | "));
  }
  if (!ids.length) { done(); return; }
  if (typeof Plotly === "undefined") { fail("plotly.js is missing"); return; }
  Promise.all(ids.map(function (id) {
    var f = figs[id];
    return Plotly.newPlot("fig-" + id, f.data, f.layout, config);
  })).then(function () {
    if (window.mlbudgetErrors.length) { fail(window.mlbudgetErrors[0]); }
    done();
  }, fail);
})();
</script>
</body>
</html>
"""

TREND_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mlbudget trend: {{ trend.budget }}</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 1em 2em; color: #222; max-width: 1400px; }
 table { border-collapse: collapse; font-size: 0.9em; } th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; }
 th { background: #f3f3f3; } .muted { color: #777; } td.num { text-align: right; }
</style>
<script>
 window.mlbudgetErrors = [];
 window.addEventListener("error", function (e) { window.mlbudgetErrors.push(String(e.message || e)); });
</script>
{% if plotly_js %}<script>{{ plotly_js }}</script>{% endif %}
</head>
<body>
<h1>{{ trend.budget }}: trends across {{ trend.points|length }} cycle(s)</h1>
{% if figs.trend %}{{ divs.trend }}{% else %}<p class="muted">No reported cycle in MLflow yet.</p>{% endif %}
<h2>Cycles</h2>
<table><tr><th>run started (UTC)</th><th>window end</th><th>budget</th><th>outcome</th>
{% for k in columns %}<th>{{ k }}</th>{% endfor %}</tr>
{% for p in trend.points %}<tr><td>{{ p.started.strftime("%Y-%m-%d %H:%M") }}</td><td>{{ p.window_end or "" }}</td>
<td>{{ p.budget_version or "" }}</td><td>{{ p.status or "" }}</td>
{% for k in columns %}<td class="num">{{ "%.4g"|format(p.metrics[k]) if k in p.metrics else "" }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% if trend.events %}<h2>Promotions and rollbacks</h2><table><tr><th>at</th><th>action</th><th>version</th><th>reason</th></tr>
{% for e in trend.events %}<tr><td>{{ e.at.strftime("%Y-%m-%d %H:%M") }}</td><td>{{ e.action }}</td>
<td>{{ e.version }}{% if e.previous %} (was {{ e.previous }}){% endif %}</td><td>{{ e.reason }}</td></tr>{% endfor %}
</table>{% endif %}
<script>
(function () {
  var figs = {{ figs_json }};
  var ids = Object.keys(figs);
  function fail(e) {
    window.mlbudgetErrors.push(String(e && e.message ? e.message : e));
    document.body.setAttribute("data-errors", window.mlbudgetErrors.join(" | "));
  }
  if (!ids.length) { document.body.setAttribute("data-rendered", "0"); return; }
  if (typeof Plotly === "undefined") { fail("plotly.js is missing"); return; }
  Promise.all(ids.map(function (id) { return Plotly.newPlot("fig-" + id, figs[id].data, figs[id].layout, {{ plot_config }}); }))
    .then(function () { document.body.setAttribute("data-rendered", String(ids.length)); }, fail);
})();
</script>
</body>
</html>
"""
