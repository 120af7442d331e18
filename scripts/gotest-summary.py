#!/usr/bin/env python3
"""Reads `go test -json` from stdin, prints package results and the output of
failed tests, the ten slowest tests, and ends with a count of passed, failed
and skipped tests.

Exits 1 if a test failed, a package failed to build, or a test was skipped:
`make test` runs everything, integration tests on real homeservers included,
so a skip means something did not really run."""
import json
import sys

outputs = {}   # (package, test) -> [lines]
results = {"pass": [], "fail": [], "skip": []}
elapsed = {}   # (package, test) -> seconds
pkg_fail = []
for raw in sys.stdin:
    try:
        ev = json.loads(raw)
    except ValueError:
        print(raw, end="")  # build errors come as plain text
        continue
    pkg, test, action = ev.get("Package", ""), ev.get("Test"), ev.get("Action")
    if action == "output":
        outputs.setdefault((pkg, test), []).append(ev.get("Output", ""))
        if test is None and ev.get("Output", "").startswith(("ok ", "FAIL", "?   ", "ok\t")):
            print(ev["Output"], end="")
    elif action in results and test is not None:
        results[action].append((pkg, test))
        if action != "skip":
            elapsed[(pkg, test)] = ev.get("Elapsed", 0.0)
    elif action == "fail" and test is None:
        pkg_fail.append(pkg)

for pkg, test in results["fail"]:
    print(f"\n--- FAIL {pkg} {test}")
    print("".join(outputs.get((pkg, test), [])), end="")
for pkg in pkg_fail:
    if not any(p == pkg for p, _ in results["fail"]):
        print(f"\n--- FAIL {pkg} (package)")
        print("".join(outputs.get((pkg, None), [])), end="")
for pkg, test in results["skip"]:
    reason = [l.strip() for l in outputs.get((pkg, test), []) if "SKIP" not in l and l.strip()]
    print(f"--- SKIP {pkg} {test}: {' '.join(reason)[-200:]}")

slowest = sorted(elapsed.items(), key=lambda kv: kv[1], reverse=True)[:10]
if slowest:
    print("\nslowest tests:")
    for (pkg, test), secs in slowest:
        print(f"  {secs:7.1f} s  {pkg.rsplit('/', 1)[-1]} {test}")

print(f"\ntests: {len(results['pass'])} passed, {len(results['fail'])} failed, {len(results['skip'])} skipped")
if results["fail"] or pkg_fail or results["skip"]:
    sys.exit(1)
