"""Checks docker-compose.yml and the Dockerfile without a Docker engine:
they are parsed, and what they say is compared with what the relay knows.

- compose: the services and their profiles (relay alone by default; redis,
  relay-a, relay-b and lb in "cluster"), the relay services' health check on
  /ready and graceful stop, every RELAYBOX_* variable set is a real config
  key (RELAYBOX_<SECTION>_<KEY> of config/relaybox.toml), every file mounted
  from the repository exists;
- Dockerfile: a build stage and a runtime stage, the files copied from the
  repository exist, the entry point is `relaybox serve` on the exposed port
  with the shipped config file, a HEALTHCHECK on /ready, SIGTERM as stop
  signal, an unprivileged user.

Run by tests/run-all.sh with the schemathesis venv's Python (PyYAML).
"""

import pathlib
import re
import shlex
import sys
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
problems = []


def check(ok, message):
    if not ok:
        problems.append(message)


config = tomllib.loads((ROOT / "config/relaybox.toml").read_text())
known = {"RELAYBOX_CONFIG"}
for section, table in config.items():
    for key in table:
        known.add(f"RELAYBOX_{section}_{key}".upper())

compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
services = compose.get("services", {})
expected = {"relay": None, "redis": ["cluster"], "relay-a": ["cluster"], "relay-b": ["cluster"], "lb": ["cluster"]}
for name, profiles in expected.items():
    check(name in services, f"compose: no service {name}")
    if name in services:
        check(services[name].get("profiles") == profiles, f"compose: {name} profiles {services[name].get('profiles')} != {profiles}")
for name in ("relay", "relay-a", "relay-b"):
    svc = services.get(name, {})
    env = svc.get("environment", {})
    for var in env:
        if var.startswith("RELAYBOX_"):
            check(var in known, f"compose: {name} sets {var}, which is not a config key")
    test = " ".join(map(str, svc.get("healthcheck", {}).get("test", [])))
    check("/ready" in test, f"compose: {name} health check does not ask /ready")
    check(svc.get("stop_signal") == "SIGTERM", f"compose: {name} stop_signal is not SIGTERM")
for name, svc in services.items():
    for volume in svc.get("volumes", []):
        source = str(volume).split(":")[0]
        if source.startswith("./"):
            check((ROOT / source).exists(), f"compose: {name} mounts {source}, which does not exist")
if "redis" in services:
    command = " ".join(map(str, services["redis"].get("command", [])))
    check("--appendfsync always" in command, "compose: redis without appendfsync always")

lines = []
for raw in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
    line = raw.strip()
    if line and not line.startswith("#"):
        lines.append(line)
instructions = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]
froms = [a for i, a in instructions if i == "FROM"]
check(len(froms) >= 2 and " AS " in froms[0].upper(), "Dockerfile: expected a named build stage and a runtime stage")
for ins, arg in instructions:
    if ins == "COPY" and "--from=" not in arg:
        parts = [p for p in shlex.split(arg) if not p.startswith("--")]
        for src in parts[:-1]:
            check((ROOT / src).exists(), f"Dockerfile: COPY {src}: no such file in the repository")
    if ins == "ENV":
        for var in re.findall(r"(RELAYBOX_[A-Z_]+)", arg):
            check(var in known, f"Dockerfile: ENV {var} is not a config key")
exposed = [a for i, a in instructions if i == "EXPOSE"]
entry = " ".join(a for i, a in instructions if i in ("ENTRYPOINT", "CMD"))
check(exposed, "Dockerfile: nothing exposed")
for port in exposed:
    check(f"0.0.0.0:{port.strip()}" in entry, f"Dockerfile: CMD does not listen on the exposed port {port}")
check("relaybox" in entry and "serve" in entry, "Dockerfile: the entry point is not relaybox serve")
check("/etc/relaybox/relaybox.toml" in entry, "Dockerfile: the shipped config file is not used")
check(any(i == "HEALTHCHECK" and "/ready" in a for i, a in instructions), "Dockerfile: no HEALTHCHECK on /ready")
check(any(i == "STOPSIGNAL" and "SIGTERM" in a for i, a in instructions), "Dockerfile: STOPSIGNAL is not SIGTERM")
users = [a for i, a in instructions if i == "USER"]
check(users and not users[-1].startswith("0") and users[-1] != "root", "Dockerfile: runs as root")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"deploy files: {len(services)} compose services and the Dockerfile match the relay's config keys")
