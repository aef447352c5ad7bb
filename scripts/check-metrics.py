"""An independent check of bourse's GET /metrics: OpenMetrics text 1.0.0, parsed by the
official Python client's OpenMetrics parser (prometheus_client, from PyPI), which is strict:
it refuses an exposition without `# EOF`, a counter sample without `_total`, histogram
buckets out of order and the like.

    check-metrics.py [URL | -]

Reads the exposition from URL (e.g. http://127.0.0.1:8080/metrics; the response's content
type must be application/openmetrics-text; version=1.0.0) or from stdin ("-", the default),
parses it with `prometheus_client.openmetrics.parser.text_string_to_metric_families` and
checks its structure:

- every family has a HELP text and a TYPE (counter, gauge or histogram), a `bourse_` name,
  and appears once;
- every value is a finite number; counters are never negative;
- every histogram has its buckets in ascending `le` order ending with `+Inf`, cumulative
  counts that never decrease, `_count` equal to the `+Inf` bucket and a non-negative `_sum`.

On success prints one JSON object and exits 0:
    {"families": {NAME: {"type": T, "help": H}}, "samples": {SERIES: VALUE}}
where NAME is the family as the parser names it (a counter without its `_total`), and
SERIES a sample as exposed, labels sorted: `bourse_rejects_total{reason="UNKNOWN_ORDER"}`.
On a violation prints what is wrong to stderr and exits 1.
"""

import json
import math
import sys
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families

KINDS = {"counter", "gauge", "histogram"}


def read(source):
    if source == "-":
        return sys.stdin.read()
    with urllib.request.urlopen(source, timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        media = [p.strip() for p in ctype.split(";")]
        if media[0] != "application/openmetrics-text" or "version=1.0.0" not in media[1:]:
            raise SystemExit(
                f"check-metrics: content type {ctype!r}, not application/openmetrics-text; "
                "version=1.0.0")
        return r.read().decode("utf-8")


def series(sample):
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}}" if labels else sample.name


def check_histogram(family, errors):
    groups = {}
    for s in family.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        g = groups.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if s.name == family.name + "_bucket":
            g["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name == family.name + "_count":
            g["count"] = s.value
        elif s.name == family.name + "_sum":
            g["sum"] = s.value
        elif s.name != family.name + "_created":
            errors.append(f"{family.name}: unexpected sample {s.name}")
    if not groups:
        errors.append(f"{family.name}: a histogram without samples")
    for key, g in groups.items():
        where = f"{family.name}{dict(key) or ''}"
        les = [le for le, _ in g["buckets"]]
        counts = [c for _, c in g["buckets"]]
        if not les or les[-1] != math.inf:
            errors.append(f"{where}: no +Inf bucket")
        if les != sorted(les) or len(set(les)) != len(les):
            errors.append(f"{where}: bucket bounds not strictly ascending: {les}")
        if any(b < a for a, b in zip(counts, counts[1:])):
            errors.append(f"{where}: cumulative bucket counts decrease: {counts}")
        if g["count"] is None or not counts or g["count"] != counts[-1]:
            errors.append(f"{where}: _count {g['count']} is not the +Inf bucket {counts[-1:]}")
        if g["sum"] is None or g["sum"] < 0:
            errors.append(f"{where}: _sum missing or negative ({g['sum']})")


def main(argv):
    text = read(argv[1] if len(argv) > 1 else "-")
    errors = []
    families, samples = {}, {}
    for f in text_string_to_metric_families(text):
        if f.name in families:
            errors.append(f"{f.name}: family appears twice")
        if f.type not in KINDS:
            errors.append(f"{f.name}: type {f.type!r} (no TYPE line?)")
        if not f.documentation:
            errors.append(f"{f.name}: no HELP text")
        if not f.name.startswith("bourse_"):
            errors.append(f"{f.name}: not under the bourse_ prefix")
        families[f.name] = {"type": f.type, "help": f.documentation}
        for s in f.samples:
            if math.isnan(s.value) or math.isinf(s.value):
                errors.append(f"{series(s)}: value {s.value}")
            if f.type == "counter" and s.value < 0:
                errors.append(f"{series(s)}: negative counter")
            if series(s) in samples:
                errors.append(f"{series(s)}: sample appears twice")
            samples[series(s)] = s.value
        if f.type == "histogram":
            check_histogram(f, errors)
    if not families:
        errors.append("no metric families at all")
    if errors:
        for e in errors:
            print(f"check-metrics: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"families": families, "samples": samples}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
