"""``bench/campaign_scale.py`` runs end to end at a tiny size and ends with the line the issue and
docs/performance.md read. Its figures are not checked: timings on a shared machine prove nothing."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAST_LINE = re.compile(
    r"scale_contacts 20 seconds \d+\.\d contacts_per_s \d+\.\d max_history_events (\d+) peak_worker_rss_mb (\d+)"
)


def test_campaign_scale_prints_its_last_line() -> None:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "bench/campaign_scale.py", "20"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    match = LAST_LINE.fullmatch(last)
    assert match, last
    events, rss = map(int, match.groups())
    assert events > 20  # one campaign run that started, paced and counted every contact
    assert rss > 0
