"""Checks one rendered overlay (the output of `kubectl kustomize`).

1. Every resource against a schema, strictly (unknown fields are errors):
   Kubernetes kinds against the pinned Kubernetes version's schemas
   (kubernetes-validate), GKE's custom resources against k8s/schemas/. A kind
   with no schema is an error, never skipped.
2. The invariants the service depends on (shutdown timing, probes, security
   context, memory bounds, what the Ingress exposes, references between
   resources), each failing with the reason.

Usage: k8s_checks.py --kubernetes-version 1.35.0 --schemas k8s/schemas RENDERED.yaml
"""

import argparse
import json
import re
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate.utils as kv
import yaml

# Measured figures behind the memory bound (k8s/base/deployment.yaml).
BASELINE_MIB = 50  # peak RSS under load
SUBSCRIBER_KIB = 15  # one idle WebSocket subscriber (BENCHMARKS.md, fan-out)
# The service's defaults (docs/operations.md, Configuration).
DEFAULTS = {
    "LIKES_SHUTDOWN_GRACE": "20s",
    "LIKES_FLUSH_HARD_TIMEOUT": "10s",
    "LIKES_BUFFER_MAX_BYTES": "64MiB",
    "LIKES_MAX_CONNECTIONS": "25000",
    "LIKES_INTROSPECTION": "true",
    "LIKES_GRAPHIQL": "true",
    "LIKES_STORE": "sqlite://likes.db",
}
# Paths that must not be reachable through the Ingress.
PRIVATE_PATHS = ["/metrics", "/healthz", "/readyz"]
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
# The runbook every alert links to, one section per alert.
RUNBOOK = Path(__file__).resolve().parent.parent / "docs" / "runbook.md"
SEVERITIES = {"page", "ticket"}


class Report:
    def __init__(self):
        self.errors = []

    def error(self, resource, message):
        self.errors.append(f"{name_of(resource)}: {message}")

    def check(self, condition, resource, message):
        if not condition:
            self.error(resource, message)


def name_of(resource):
    if resource is None:
        return "(overlay)"
    return f"{resource.get('kind')}/{(resource.get('metadata') or {}).get('name')}"


# ---- values ----------------------------------------------------------------

DURATION_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(text):
    """A duration as the service parses it (`500ms`, `20s`, `1m 30s`)."""
    if not isinstance(text, str):
        raise ValueError(f"not a duration: {text!r}")
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text)
    rest = re.sub(r"(\d+(?:\.\d+)?)\s*([a-z]+)|\s", "", text)
    if not parts or rest or any(unit not in DURATION_UNITS for _, unit in parts):
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * DURATION_UNITS[unit] for n, unit in parts)


BYTE_UNITS = {
    "": 1,
    "B": 1,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
}


def size_bytes(text):
    """A byte size: Kubernetes quantities (`512Mi`) or the service's (`64MiB`)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", str(text).strip())
    if not match or match.group(2) not in BYTE_UNITS:
        raise ValueError(f"not a size: {text!r}")
    return float(match.group(1)) * BYTE_UNITS[match.group(2)]


# ---- selecting ---------------------------------------------------------------


def selects(selector, labels):
    """Whether a label selector (matchLabels / matchExpressions) selects labels."""
    if not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pod_template(resource):
    if resource.get("kind") == "CronJob":
        return resource["spec"]["jobTemplate"]["spec"]["template"]
    return resource["spec"]["template"]


def containers(pod_spec):
    return (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or [])


class Overlay:
    def __init__(self, resources):
        self.resources = resources

    def of_kind(self, kind):
        return [r for r in self.resources if r.get("kind") == kind]

    def find(self, kind, name):
        for r in self.of_kind(kind):
            if r["metadata"].get("name") == name:
                return r
        return None

    def workloads(self):
        return [r for r in self.resources if r.get("kind") in WORKLOAD_KINDS]

    def env(self, report, owner, container):
        """The container's environment: its ConfigMaps, then its own entries."""
        env = {}
        for source in container.get("envFrom") or []:
            ref = source.get("configMapRef")
            if ref is None:
                continue
            config_map = self.find("ConfigMap", ref["name"])
            if config_map is None:
                if not ref.get("optional"):
                    report.error(owner, f"envFrom names ConfigMap {ref['name']}, which is not in the overlay")
                continue
            env.update(config_map.get("data") or {})
        for entry in container.get("env") or []:
            if "value" in entry:
                env[entry["name"]] = entry["value"]
            elif "valueFrom" in entry:
                env[entry["name"]] = entry["valueFrom"]
        return env


# ---- 1. schemas --------------------------------------------------------------


def load_custom_schemas(directory):
    schemas = {}
    for path in sorted(Path(directory).glob("*.json")):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        key = (schema["properties"]["apiVersion"]["const"], schema["properties"]["kind"]["const"])
        schemas[key] = (path, schema)
    return schemas


def validate_schemas(resources, version, custom, report):
    for resource in resources:
        label = name_of(resource)
        if not (
            isinstance(resource.get("metadata"), dict) and resource.get("kind") and resource.get("apiVersion")
        ):
            report.error(resource, "a resource needs apiVersion, kind and metadata")
            continue
        try:
            checked = kv.validate(resource, version, strict=True)
            print(f"  ok  {label}: Kubernetes {checked} schema (strict)")
            continue
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path) or "(top)"
            report.error(resource, f"Kubernetes {e.version} schema: {path}: {e.message}")
            continue
        except kv.SchemaNotFoundError:
            pass
        except kv.VersionNotSupportedError:
            sys.exit(f"kubernetes-validate {kv.__version__} has no schemas for Kubernetes {version}")
        key = (resource.get("apiVersion"), resource.get("kind"))
        if key not in custom:
            report.error(
                resource,
                f"no schema for {key[1]} {key[0]}: neither Kubernetes {version} has it nor k8s/schemas/",
            )
            continue
        path, schema = custom[key]
        problems = sorted(
            jsonschema.Draft202012Validator(schema).iter_errors(resource),
            key=lambda e: [str(p) for p in e.path],
        )
        for e in problems:
            where = ".".join(str(p) for p in e.path) or "(top)"
            report.error(resource, f"{path.name}: {where}: {e.message}")
        if not problems:
            print(f"  ok  {label}: {path.name}")


# ---- 2. invariants -----------------------------------------------------------


def check_pod_security(overlay, report):
    for workload in overlay.workloads():
        pod = pod_template(workload)["spec"]
        pod_ctx = pod.get("securityContext") or {}
        report.check(
            pod.get("enableServiceLinks") is False,
            workload,
            "enableServiceLinks must be false: Kubernetes would add <SERVICE>_PORT variables "
            "(LIKES_PORT, ...) to the environment the service reads",
        )
        for c in containers(pod):
            ctx = c.get("securityContext") or {}
            who = f"container {c['name']}"

            def effective(key):
                return ctx.get(key, pod_ctx.get(key))

            report.check(effective("runAsNonRoot") is True, workload, f"{who}: runAsNonRoot must be true")
            report.check(effective("runAsUser") != 0, workload, f"{who}: runAsUser must not be 0")
            report.check(
                ctx.get("readOnlyRootFilesystem") is True,
                workload,
                f"{who}: readOnlyRootFilesystem must be true",
            )
            report.check(
                ctx.get("allowPrivilegeEscalation") is False,
                workload,
                f"{who}: allowPrivilegeEscalation must be false",
            )
            report.check(
                "ALL" in ((ctx.get("capabilities") or {}).get("drop") or []),
                workload,
                f"{who}: capabilities must drop ALL",
            )
            seccomp = (effective("seccompProfile") or {}).get("type")
            report.check(
                seccomp in ("RuntimeDefault", "Localhost"),
                workload,
                f"{who}: seccompProfile must be RuntimeDefault",
            )
            resources = c.get("resources") or {}
            report.check("memory" in (resources.get("limits") or {}), workload, f"{who}: no memory limit")
            for r in ("cpu", "memory"):
                report.check(r in (resources.get("requests") or {}), workload, f"{who}: no {r} request")
            image = c.get("image", "")
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            report.check(
                tag and tag != "latest",
                workload,
                f"{who}: image {image!r} must name a version, not latest or nothing",
            )


def is_server(container):
    return (container.get("args") or [None])[0] == "serve"


def is_migrate(container):
    return (container.get("args") or [None])[0] == "migrate"


def is_export(container):
    return (container.get("args") or [None])[0] == "export"


def check_server(overlay, report, deployment, container):
    pod = pod_template(deployment)["spec"]
    env = overlay.env(report, deployment, container)

    def setting(name):
        return env.get(name, DEFAULTS.get(name))

    store = setting("LIKES_STORE")
    report.check(
        str(store).startswith("spanner://"),
        deployment,
        f"LIKES_STORE is {store!r}: the root filesystem is read-only, so the store must be spanner://",
    )
    server_id = env.get("LIKES_SERVER_ID")
    report.check(
        isinstance(server_id, dict) and (server_id.get("fieldRef") or {}).get("fieldPath") == "metadata.name",
        deployment,
        "LIKES_SERVER_ID must come from the pod name (fieldRef metadata.name)",
    )

    # Shutdown: preStop sleep, then SIGTERM and LIKES_SHUTDOWN_GRACE, within the kill deadline.
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    report.check(
        "exec" not in pre_stop,
        deployment,
        "preStop uses exec, but the image has no shell: use the sleep action",
    )
    pause = (pre_stop.get("sleep") or {}).get("seconds", 0)
    try:
        grace = seconds(setting("LIKES_SHUTDOWN_GRACE"))
        hard = seconds(setting("LIKES_FLUSH_HARD_TIMEOUT"))
    except ValueError as e:
        report.error(deployment, str(e))
        grace = hard = 0
    deadline = pod.get("terminationGracePeriodSeconds", 30)
    report.check(
        deadline > pause + grace,
        deployment,
        f"terminationGracePeriodSeconds ({deadline}) must exceed the preStop sleep ({pause} s) "
        f"+ LIKES_SHUTDOWN_GRACE ({grace:g} s), or buffered likes are killed unstored",
    )
    report.check(
        grace > hard,
        deployment,
        f"LIKES_SHUTDOWN_GRACE ({grace:g} s) must exceed LIKES_FLUSH_HARD_TIMEOUT ({hard:g} s)",
    )

    # Probes: readiness on /readyz (this pod can take likes), liveness on /healthz.
    ready = container.get("readinessProbe") or {}
    live = container.get("livenessProbe") or {}
    report.check(
        (ready.get("httpGet") or {}).get("path") == "/readyz",
        deployment,
        "the readiness probe must be GET /readyz",
    )
    report.check(
        ready.get("timeoutSeconds", 1) >= 3,
        deployment,
        "the readiness probe's timeoutSeconds must be at least 3: a pod busy with a burst "
        "must not leave the Service for a slow answer",
    )
    report.check(
        (live.get("httpGet") or {}).get("path") == "/healthz",
        deployment,
        "the liveness probe must be GET /healthz (/readyz would restart a pod whose buffer is full, "
        "losing what it holds)",
    )

    # Memory: baseline + a full buffer + every allowed connection, under the limit.
    limit_text = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    try:
        limit = size_bytes(limit_text) if limit_text else 0
        buffer = size_bytes(setting("LIKES_BUFFER_MAX_BYTES"))
        connections = int(str(setting("LIKES_MAX_CONNECTIONS")))
        need = BASELINE_MIB * 2**20 + buffer + connections * SUBSCRIBER_KIB * 2**10
        report.check(
            need <= limit,
            deployment,
            f"memory limit {limit_text} is below {need / 2**20:.0f} MiB = {BASELINE_MIB} MiB + "
            f"{buffer / 2**20:.0f} MiB buffer + {connections} connections x {SUBSCRIBER_KIB} KiB",
        )
    except ValueError as e:
        report.error(deployment, str(e))

    # The port the service listens on is the one the pod, probes and Service use.
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
    listen = str(env.get("LIKES_LISTEN", "0.0.0.0:8080"))
    port = listen.rsplit(":", 1)[-1]
    report.check(
        port.isdigit() and ports.get("http") == int(port),
        deployment,
        f"the container port named http must be the port of LIKES_LISTEN ({listen})",
    )

    # The catalogue file is mounted from a ConfigMap that holds it, and parses.
    check_catalogue(overlay, report, deployment, container, setting("LIKES_SESSIONS"))

    keys = [t["topologyKey"] for t in pod.get("topologySpreadConstraints") or []]
    report.check(
        len(keys) == len(set(keys)), deployment, f"topologySpreadConstraints repeat a topologyKey: {keys}"
    )
    return env


def check_catalogue(overlay, report, deployment, container, path):
    if path is None:
        return
    if not isinstance(path, str):
        report.error(deployment, "LIKES_SESSIONS must be a plain value: the catalogue's path")
        return
    pod = pod_template(deployment)["spec"]
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        source = volumes.get(mount["name"], {}).get("configMap")
        if source is None:
            report.error(deployment, f"LIKES_SESSIONS {path}: volume {mount['name']} is not a ConfigMap")
            return
        config_map = overlay.find("ConfigMap", source["name"])
        key = path[len(prefix) :]
        if config_map is None or key not in (config_map.get("data") or {}):
            report.error(deployment, f"LIKES_SESSIONS {path}: ConfigMap {source['name']} has no key {key}")
            return
        try:
            sessions = json.loads(config_map["data"][key])["sessions"]
            ids = [s["id"] for s in sessions]
            ok = (
                sessions
                and all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
                and all(isinstance(s["title"], str) for s in sessions)
                and len(set(ids)) == len(ids)
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        report.check(
            ok,
            config_map,
            f'{key} is not a catalogue: a "sessions" array of objects with '
            "distinct integer ids and string titles",
        )
        return
    report.error(deployment, f"LIKES_SESSIONS {path} is on no mounted volume")


def check_jobs(overlay, report, server_env, server_pod):
    for job in overlay.of_kind("Job"):
        pod = pod_template(job)["spec"]
        for c in pod["containers"]:
            if not is_migrate(c):
                continue
            env = overlay.env(report, job, c)
            report.check(
                env.get("LIKES_STORE") == server_env.get("LIKES_STORE"),
                job,
                "migrate must use the servers' LIKES_STORE",
            )
            report.check(
                pod.get("serviceAccountName") not in (None, server_pod.get("serviceAccountName")),
                job,
                "migrate must run as its own service account, not the servers'",
            )
        spec = job["spec"]
        report.check(
            "backoffLimit" in spec and "ttlSecondsAfterFinished" in spec,
            job,
            "a Job needs backoffLimit and ttlSecondsAfterFinished",
        )


def check_export(overlay, report, server_env, server_pod):
    """The scheduled export: its store, its own identity, one run at a time."""
    migrate_accounts = {
        pod_template(j)["spec"].get("serviceAccountName")
        for j in overlay.of_kind("Job")
        if any(is_migrate(c) for c in pod_template(j)["spec"]["containers"])
    }
    for cron in overlay.of_kind("CronJob"):
        pod = pod_template(cron)["spec"]
        exports = [c for c in containers(pod) if is_export(c)]
        if not exports:
            continue
        for c in exports:
            env = overlay.env(report, cron, c)
            report.check(
                env.get("LIKES_STORE") == server_env.get("LIKES_STORE"),
                cron,
                "the export must read the servers' LIKES_STORE",
            )
            args = c.get("args") or []
            report.check(
                "--last-days" in args and "--from" not in args and "--to" not in args,
                cron,
                "a scheduled export names its days with --last-days (fixed --from/--to would "
                "export the same days every run)",
            )
        account = pod.get("serviceAccountName")
        report.check(
            account not in (None, server_pod.get("serviceAccountName"), *migrate_accounts),
            cron,
            "the export must run as its own service account, not the servers' or migrate's",
        )
        report.check(
            overlay.find("ServiceAccount", account) is not None,
            cron,
            f"ServiceAccount {account} is not in the overlay",
        )
        spec = cron["spec"]
        report.check(
            spec.get("concurrencyPolicy") == "Forbid",
            cron,
            "concurrencyPolicy must be Forbid: two runs would replace the same partitions at once",
        )
        report.check("timeZone" in spec, cron, "the schedule needs a timeZone (days are UTC days)")
        job = spec["jobTemplate"]["spec"]
        report.check(
            "backoffLimit" in job and "ttlSecondsAfterFinished" in job and "activeDeadlineSeconds" in job,
            cron,
            "the job template needs backoffLimit, activeDeadlineSeconds and ttlSecondsAfterFinished",
        )


def runbook_anchors():
    """GitHub-style anchors of the runbook's headings."""
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


def check_rules(overlay, report):
    """Every alert pages or tickets, says what it is, links its runbook
    section; every recorded series an alert reads is recorded; every
    CronJob an alert watches exists. An overlay that is scraped alerts."""
    rules = overlay.of_kind("Rules")
    if overlay.of_kind("PodMonitoring"):
        report.check(rules, None, "the overlay is scraped (PodMonitoring) but has no Rules: nobody is alerted")
    anchors = runbook_anchors() if rules else set()
    for resource in rules:
        recorded = {r["record"] for g in resource["spec"]["groups"] for r in g["rules"] if "record" in r}
        for group in resource["spec"]["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert")
                if name is None:
                    continue
                labels, annotations = rule.get("labels") or {}, rule.get("annotations") or {}
                report.check(
                    labels.get("severity") in SEVERITIES,
                    resource,
                    f"{name}: severity must be one of {sorted(SEVERITIES)}",
                )
                report.check(annotations.get("summary"), resource, f"{name}: no summary")
                link = annotations.get("runbook_url", "")
                anchor = link.rsplit("#", 1)[-1] if "#" in link else None
                report.check(
                    link.split("#")[0].endswith("docs/runbook.md") and anchor in anchors,
                    resource,
                    f"{name}: runbook_url {link!r} is not a section of docs/runbook.md",
                )
                for used in re.findall(r"\blikes:[a-z0-9_:]+", rule["expr"]):
                    report.check(used in recorded, resource, f"{name} reads {used}, which no rule records")
                for cron in re.findall(r'cronjob="([^"]+)"', rule["expr"]):
                    report.check(
                        overlay.find("CronJob", cron) is not None,
                        resource,
                        f"{name} watches CronJob {cron}, which is not in the overlay",
                    )


def check_dashboards(overlay, report):
    """Dashboards (ConfigMaps for Grafana's sidecar) are JSON with queries."""
    for config_map in overlay.of_kind("ConfigMap"):
        if "grafana_dashboard" not in (config_map["metadata"].get("labels") or {}):
            continue
        for key, text in (config_map.get("data") or {}).items():
            try:
                dashboard = json.loads(text)
            except ValueError as e:
                report.error(config_map, f"{key} is not JSON: {e}")
                continue
            queries = [
                t.get("expr")
                for p in dashboard.get("panels") or []
                for t in p.get("targets") or []
                if t.get("expr")
            ]
            report.check(dashboard.get("title") and queries, config_map, f"{key}: a dashboard needs a title and queries")


def pods(overlay):
    for workload in overlay.workloads():
        yield workload, pod_template(workload)


def check_routing(overlay, report, server, server_env):
    server_labels = pod_template(server)["metadata"].get("labels") or {}
    server_ports = {
        p.get("name"): p["containerPort"]
        for c in pod_template(server)["spec"]["containers"]
        for p in c.get("ports") or []
    }

    for service in overlay.of_kind("Service"):
        selector = {"matchLabels": service["spec"].get("selector") or {}}
        chosen = [w for w, t in pods(overlay) if selects(selector, t["metadata"].get("labels") or {})]
        report.check(chosen, service, "selects no pods")
        for w in chosen:
            report.check(w["kind"] != "Job", service, f"selects the pods of {name_of(w)}")

    service = next(
        (
            s
            for s in overlay.of_kind("Service")
            if selects({"matchLabels": s["spec"].get("selector") or {}}, server_labels)
        ),
        None,
    )
    if service is None:
        report.error(server, "no Service selects the server pods")
        return
    for port in service["spec"]["ports"]:
        target = port.get("targetPort")
        report.check(
            target in server_ports or target in server_ports.values(),
            service,
            f"targetPort {target} is not a port of the server pods",
        )

    for ingress in overlay.of_kind("Ingress"):
        annotations = ingress["metadata"].get("annotations") or {}
        report.check(
            annotations.get("kubernetes.io/ingress.class") == "gce",
            ingress,
            "kubernetes.io/ingress.class must be gce (GKE's Ingress controller)",
        )
        report.check(
            "defaultBackend" not in ingress["spec"],
            ingress,
            "a defaultBackend would expose every path, /metrics included",
        )
        for rule in ingress["spec"].get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = path["backend"].get("service")
                if backend is None:
                    report.error(ingress, f"path {path['path']} routes to something other than a Service")
                    continue
                target = overlay.find("Service", backend["name"])
                if target is None:
                    report.error(ingress, f"routes to Service {backend['name']}, which is not in the overlay")
                    continue
                port = backend["port"]
                names = {p.get("name") for p in target["spec"]["ports"]}
                numbers = {p["port"] for p in target["spec"]["ports"]}
                report.check(
                    port.get("name") in names or port.get("number") in numbers,
                    ingress,
                    f"Service {backend['name']} has no port {port}",
                )
                for private in PRIVATE_PATHS:
                    report.check(
                        not routes(path, private),
                        ingress,
                        f"path {path['path']} ({path.get('pathType')}) exposes {private}",
                    )
        # The API is public: no schema browsing for strangers.
        for flag in ("LIKES_INTROSPECTION", "LIKES_GRAPHIQL"):
            value = server_env.get(flag, DEFAULTS[flag])
            report.check(value == "false", ingress, f"public Ingress, but {flag} is {value!r}")
        report.check(
            "LIKES_CLIENT_IP_HEADER" in server_env,
            server,
            "behind the load balancer LIKES_CLIENT_IP_HEADER must be set, or every client "
            "shares the load balancer's address and its rate limit",
        )
        certificates = annotations.get("networking.gke.io/managed-certificates")
        hosts = {r["host"] for r in ingress["spec"].get("rules") or [] if "host" in r}
        if certificates:
            domains = set()
            for name in certificates.split(","):
                certificate = overlay.find("ManagedCertificate", name.strip())
                if certificate is None:
                    report.error(ingress, f"ManagedCertificate {name} is not in the overlay")
                else:
                    domains.update(certificate["spec"]["domains"])
            report.check(hosts <= domains, ingress, f"hosts {sorted(hosts - domains)} have no certificate")
        frontend = annotations.get("networking.gke.io/v1beta1.FrontendConfig")
        if frontend:
            report.check(
                overlay.find("FrontendConfig", frontend) is not None,
                ingress,
                f"FrontendConfig {frontend} is not in the overlay",
            )
        check_backend_config(overlay, report, service, server_ports)


def routes(path, private):
    """Whether an Ingress path sends `private` to its backend."""
    p, kind = path["path"], path.get("pathType", "ImplementationSpecific")
    if kind == "ImplementationSpecific" and p.endswith("/*"):
        p, kind = p[:-2] or "/", "Prefix"
    if kind == "Prefix":
        return p == "/" or private == p.rstrip("/") or private.startswith(p.rstrip("/") + "/")
    return private == p


def check_backend_config(overlay, report, service, server_ports):
    annotation = (service["metadata"].get("annotations") or {}).get("cloud.google.com/backend-config")
    if not annotation:
        report.error(
            service,
            "no cloud.google.com/backend-config: the load balancer would cut "
            "WebSockets after 30 s and health-check / instead of /readyz",
        )
        return
    try:
        names = json.loads(annotation)
    except ValueError:
        report.error(service, f"cloud.google.com/backend-config is not JSON: {annotation!r}")
        return
    for name in [names.get("default"), *(names.get("ports") or {}).values()]:
        if name is None:
            continue
        config = overlay.find("BackendConfig", name)
        if config is None:
            report.error(service, f"BackendConfig {name} is not in the overlay")
            continue
        spec = config["spec"]
        check = spec.get("healthCheck") or {}
        report.check(check.get("requestPath") == "/readyz", config, "the health check must be /readyz")
        report.check(
            check.get("port") in server_ports.values(),
            config,
            f"health check port {check.get('port')} is not a port of the server pods",
        )
        report.check(
            check.get("timeoutSec", 5) <= check.get("checkIntervalSec", 5),
            config,
            "the health check's timeoutSec may not exceed its checkIntervalSec",
        )
        report.check(
            spec.get("timeoutSec", 30) >= 60,
            config,
            "timeoutSec bounds a WebSocket's or a streamed subscription's life: at least a "
            "minute, or subscribers churn",
        )


def check_scaling(overlay, report, server):
    labels = pod_template(server)["metadata"].get("labels") or {}
    replicas = server["spec"].get("replicas", 1)
    hpas = [
        h
        for h in overlay.of_kind("HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]["name"] == server["metadata"]["name"]
    ]
    for hpa in overlay.of_kind("HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        report.check(
            overlay.find(ref["kind"], ref["name"]) is not None,
            hpa,
            f"scales {ref['kind']}/{ref['name']}, which is not in the overlay",
        )
    for hpa in hpas:
        low, high = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
        report.check(low <= high, hpa, f"minReplicas {low} exceeds maxReplicas {high}")
        report.check(
            "replicas" not in server["spec"],
            server,
            f"spec.replicas is set beside {name_of(hpa)}, which owns the count: every apply "
            "would reset a scaled-out fleet and reconnect everyone on the removed pods",
        )
    budgets = [
        b for b in overlay.of_kind("PodDisruptionBudget") if selects(b["spec"].get("selector"), labels)
    ]
    report.check(budgets, server, "no PodDisruptionBudget covers the server pods")
    floor = min([h["spec"].get("minReplicas", 1) for h in hpas] or [replicas])
    for budget in budgets:
        available = budget["spec"].get("minAvailable")
        report.check(
            not isinstance(available, int) or available < floor,
            budget,
            f"minAvailable {available} leaves no disruption allowed at {floor} replicas",
        )
    for monitor in overlay.of_kind("PodMonitoring"):
        report.check(selects(monitor["spec"]["selector"], labels), monitor, "does not select the server pods")
        names = {
            p.get("name") for c in pod_template(server)["spec"]["containers"] for p in c.get("ports") or []
        }
        for endpoint in monitor["spec"]["endpoints"]:
            port = endpoint["port"]
            report.check(isinstance(port, int) or port in names, monitor, f"port {port} is not a server port")
            try:
                timeout, interval = seconds(endpoint.get("timeout", "0s")), seconds(endpoint["interval"])
            except ValueError as e:
                report.error(monitor, str(e))
                continue
            report.check(timeout <= interval, monitor, "the scrape timeout may not exceed the interval")


def check_namespace(overlay, report):
    namespaces = {r["metadata"]["name"] for r in overlay.of_kind("Namespace")}
    report.check(
        len(namespaces) == 1, None, f"an overlay creates exactly one Namespace, not {sorted(namespaces)}"
    )
    for r in overlay.resources:
        if r["kind"] != "Namespace":
            report.check(
                r["metadata"].get("namespace") in namespaces,
                r,
                f"namespace {r['metadata'].get('namespace')!r} is not the overlay's",
            )


def check_invariants(resources, report):
    overlay = Overlay(resources)
    check_namespace(overlay, report)
    check_pod_security(overlay, report)
    servers = [
        (d, c)
        for d in overlay.of_kind("Deployment")
        for c in pod_template(d)["spec"]["containers"]
        if is_server(c)
    ]
    if len(servers) != 1:
        report.error(None, f"expected one Deployment running `likes serve`, found {len(servers)}")
        return
    server, container = servers[0]
    env = check_server(overlay, report, server, container)
    check_jobs(overlay, report, env, pod_template(server)["spec"])
    report.check(
        any(is_migrate(c) for j in overlay.of_kind("Job") for c in pod_template(j)["spec"]["containers"]),
        None,
        "no Job runs `likes migrate`",
    )
    check_export(overlay, report, env, pod_template(server)["spec"])
    check_routing(overlay, report, server, env)
    check_scaling(overlay, report, server)
    check_rules(overlay, report)
    check_dashboards(overlay, report)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes-version", required=True)
    parser.add_argument("--schemas", required=True, help="folder of JSON schemas for custom resources")
    parser.add_argument("rendered", help="the output of kubectl kustomize")
    args = parser.parse_args()

    with open(args.rendered) as f:
        resources = [r for r in yaml.safe_load_all(f) if r]
    if not all(isinstance(r, dict) for r in resources):
        print("  FAIL a YAML document is not a resource (a mapping)")
        return 1
    if not resources:
        print("  FAIL the overlay rendered no resources")
        return 1
    report = Report()
    validate_schemas(resources, args.kubernetes_version, load_custom_schemas(args.schemas), report)
    if not report.errors:
        # The invariants read fields the schemas vouch for; the schemas
        # allow nulls and omissions the checks do not expect.
        try:
            check_invariants(resources, report)
        except (KeyError, TypeError, AttributeError) as e:
            report.error(None, f"a resource lacks a field the checks need ({type(e).__name__}: {e})")
    for error in report.errors:
        print(f"  FAIL {error}")
    if report.errors:
        return 1
    print(f"  ok  invariants ({len(resources)} resources)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
