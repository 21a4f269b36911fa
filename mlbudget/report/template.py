"""The Jinja2 template of report.html: one self-contained page, images inlined as data URIs."""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mlbudget report: {{ budget.name }} {{ budget.version }}</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
 table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
 th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
 th { background: #f3f3f3; }
 .ok { color: #17692e; } .bad { color: #b00020; } .warn { color: #a05a00; }
 .decision { border-left: 4px solid #444; padding: 0.5em 1em; background: #fafafa; }
 code { font-size: 0.85em; }
 img { max-width: 100%; }
</style>
</head>
<body>
<h1>{{ budget.name }} &mdash; budget {{ budget.version }}</h1>
<p>Owner {{ budget.owner }}. Budget sha256 <code>{{ budget_sha256 }}</code>.
Latency limits at concurrency {{ budget.limits.latency.concurrency }}:
{% for p, v in latency_limits %}{{ p }} &le; {{ v }} ms{% if not loop.last %}, {% endif %}{% else %}none{% endfor %}.</p>

<h2>Decision</h2>
<div class="decision">
{% if decision %}
<p><strong>Winner: {{ decision.winner if decision.winner else "none" }}</strong>
 ({{ "promote" if decision.promote else "no promotion" }})</p>
<p>{{ decision.rationale }}</p>
{% else %}<p>No selection was made in this cycle.</p>{% endif %}
</div>

{% if validation %}
<h2>Validation</h2>
<p class="{{ 'ok' if validation.success else 'bad' }}">{{ validation.summary() }}</p>
{% if validation.failed %}<ul>{% for o in validation.failed %}<li>{{ o.message }}</li>{% endfor %}</ul>{% endif %}
{% endif %}

{% if detection %}
<h2>Detection</h2>
<table><tr><th>kind</th><th>status</th><th>metric</th><th>message</th></tr>
{% for f in detection.findings %}
<tr><td>{{ f.kind }}</td><td class="{{ status_class[f.status] }}">{{ f.status }}</td>
<td>{{ f.metric }}</td><td>{{ f.message }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if plots.drift %}<img alt="feature drift" src="data:image/png;base64,{{ plots.drift }}">{% endif %}

{% if plan %}
<h2>Plan</h2>
{% if plan.actions %}
<table><tr><th>candidate kind</th><th>why</th><th>forced</th></tr>
{% for a in plan.actions %}
<tr><td>{{ a.kind }}</td><td>{{ a.reason }}</td><td>{{ "yes" if a.forced else "" }}</td></tr>
{% endfor %}</table>
{% else %}<p>No action: every finding is within budget.</p>{% endif %}
{% if plan.dry_run %}<p>Dry run: the cycle stopped after planning.</p>{% endif %}
{% endif %}

<h2>Candidates</h2>
{% if rows %}
<table><tr><th>candidate</th><th>generator</th><th>sha256</th><th>size MB</th>
<th>p50 / p95 / p99 ms @c={{ budget.limits.latency.concurrency }}</th><th>p95 95% CI</th>
<th>throughput rps</th><th>peak RSS MB</th><th>accuracy</th><th>fits</th><th>Pareto</th><th>breaches</th></tr>
{% for r in rows %}
<tr><td>{{ r.name }}{% if r.is_champion %} (champion){% endif %}</td><td>{{ r.generator }}</td>
<td><code>{{ r.sha }}</code></td><td>{{ r.size }}</td><td>{{ r.latency }}</td><td>{{ r.ci }}</td>
<td>{{ r.throughput }}</td><td>{{ r.rss }}</td><td>{{ r.accuracy }}</td>
<td class="{{ 'ok' if r.fits else 'bad' }}">{{ r.fits_text }}</td><td>{{ r.pareto }}</td>
<td>{{ r.breaches }}</td></tr>
{% endfor %}</table>
{% else %}<p>No candidates in this cycle.</p>{% endif %}
{% if plots.latency %}<img alt="latency per concurrency" src="data:image/png;base64,{{ plots.latency }}">{% endif %}
{% if plots.size_latency %}<img alt="size against p95" src="data:image/png;base64,{{ plots.size_latency }}">{% endif %}

{% if hardware %}
<h2>Hardware</h2>
<p>{{ hardware.cpu_model }}; {{ hardware.cores_logical }} logical cores; flags {{ hardware.cpu_flags|join(", ") }};
ONNX Runtime {{ hardware.ort_version }} ({{ hardware.provider }}, intra {{ hardware.intra_op_threads }},
inter {{ hardware.inter_op_threads }}, optimisation {{ hardware.graph_optimization }}).</p>
{% endif %}

{% if extra_json %}
<h2>Details</h2>
<pre>{{ extra_json }}</pre>
{% endif %}
</body>
</html>
"""
