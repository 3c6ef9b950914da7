"""Parses Prometheus text exposition from stdin with the reference Python client's parser and
prints the families as JSON: {name: {"type", "help", "samples": [[name, labels, value]]}}.
A malformed exposition fails here, as it would fail a Prometheus server's scrape."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = {
        "type": family.type,
        "help": family.documentation,
        "samples": [[s.name, s.labels, None if math.isnan(s.value) else s.value] for s in family.samples],
    }
json.dump(families, sys.stdout)
