"""The embedded default broker: a real single-node Apache Kafka 4.x in KRaft mode.

The official jars (`org.apache.kafka:kafka_2.13` and their dependencies) are resolved
once with Maven from `deploy/kafka/pom.xml` into `<jar cache>/kafka-<version>/lib` (the
jar cache is `~/.cache/hub` unless `HUB_JAR_CACHE` says otherwise, shared by every
`HUB_HOME`), then reused offline. The broker runs detached from the command that started it; its pid,
address and version are recorded in `<data-dir>/hub-broker.json`, and the last started
broker in `<HUB_HOME>/kafka.json` so that other commands find it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from hub.errors import BrokerError

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
STATE_FILE = "hub-broker.json"


def kafka_version(pom: Path = POM) -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text())
    if not match:
        raise BrokerError(f"{pom}: no <kafka.version> property")
    return match.group(1)


@dataclass
class BrokerInfo:
    bootstrap: str
    controller_port: int
    pid: int
    data_dir: str
    version: str

    @property
    def port(self) -> int:
        return int(self.bootstrap.rsplit(":", 1)[1])


def _require_java() -> str:
    java = shutil.which("java")
    if not java:
        raise BrokerError("java not found: install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    if not match or int(match.group(1)) < 17:
        raise BrokerError(f"Kafka 4 needs Java 17 or newer; found: {out.splitlines()[0] if out else 'unknown'}")
    return java


def resolve_jars(cache: Path, pom: Path = POM) -> Path:
    """The directory of the broker's jars, resolved with Maven on first use."""
    version = kafka_version(pom)
    lib = cache / f"kafka-{version}" / "lib"
    marker = lib / ".complete"
    if marker.exists():
        return lib
    mvn = shutil.which("mvn")
    if not mvn:
        raise BrokerError("mvn not found: install Apache Maven (e.g. apt-get install maven) to fetch the Kafka jars")
    tmp = lib.with_name("lib.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
           f"-DoutputDirectory={tmp}", "-DincludeScope=runtime"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
        detail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise BrokerError(f"could not resolve the Kafka {version} jars with Maven: {detail[0]}")
    shutil.rmtree(lib, ignore_errors=True)
    tmp.rename(lib)
    marker.touch()
    return lib


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (tests start brokers as children) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def _process_state(pid: int) -> str | None:
    """The state letter of /proc/<pid>/stat (`T`: stopped by a signal), None if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return None


def _runs(pid: int, config: Path) -> bool:
    """Whether `pid` is a Kafka broker run on `config`: a pid recorded before a crash or
    a reboot may now be anyone's, and `stop` must never signal someone else's process.
    Where /proc cannot tell (not Linux), a live pid is taken for the broker."""
    if not _pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return b"kafka.Kafka" in args and str(config).encode() in args


_SERVER_PROPERTIES = """\
# Written by `hub kafka start`. Single node, KRaft combined mode, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={log_dir}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=-1
log.segment.bytes=104857600
log.cleaner.dedupe.buffer.size=16777216
"""

_LOG4J2 = """\
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {logs}/server.log
appender.file.filePattern = {logs}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


class EmbeddedKafka:
    """Start, stop and inspect one broker whose data lives in `data_dir`."""

    def __init__(self, data_dir: Path, jar_cache: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.jar_cache = jar_cache
        self.state_path = self.data_dir / STATE_FILE

    def info(self) -> BrokerInfo | None:
        try:
            return BrokerInfo(**json.loads(self.state_path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    @property
    def config_path(self) -> Path:
        return self.data_dir / "server.properties"

    def running(self) -> BrokerInfo | None:
        info = self.info()
        if info and _runs(info.pid, self.config_path) and _port_answers(info.port):
            return info
        return None

    def paused(self) -> BrokerInfo | None:
        """The broker, when its process is stopped by a signal (SIGSTOP, a debugger): its
        port still accepts connections, and nothing answers on them."""
        info = self.info()
        if info and _runs(info.pid, self.config_path) and _process_state(info.pid) in ("T", "t"):
            return info
        return None

    def start(self, port: int, *, timeout: float = 90.0, heap: str = "1g") -> BrokerInfo:
        """Start the broker on `port`, or return the one running on these data. Two starts
        at once take turns (a lock in the data folder): the second finds the first's
        broker instead of launching one that fails while the first answers its checks."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / ".start.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._start(port, timeout=timeout, heap=heap)

    def _start(self, port: int, *, timeout: float, heap: str) -> BrokerInfo:
        if (info := self.running()) is not None:
            if info.port != port:
                raise BrokerError(f"un Kafka tourne déjà sur ces données ({self.data_dir}) sur {info.bootstrap}")
            return info
        if _port_answers(port):
            raise BrokerError(f"le port {port} est déjà pris sur 127.0.0.1 : choisissez-en un autre (HUB_KAFKA_PORT, ou hub kafka start --port N)")
        java = _require_java()
        lib = resolve_jars(self.jar_cache)
        previous = self.info()
        controller_port = previous.controller_port if previous else 0
        if not controller_port or _port_answers(controller_port):
            controller_port = free_port()
        config = self._write_config(port, controller_port)
        classpath = f"{lib}/*"
        log_dir = self.data_dir / "log"
        if not (log_dir / "meta.properties").exists():
            cluster_id = uuid.uuid4().hex[:22]
            fmt = subprocess.run(
                [java, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)],
                capture_output=True, text=True,
            )
            if fmt.returncode != 0:
                raise BrokerError(f"could not format Kafka storage in {log_dir}: {fmt.stdout.strip() or fmt.stderr.strip()}")
        out = open(self.data_dir / "logs" / "stdout.log", "ab")
        proc = subprocess.Popen(
            [java, f"-Xmx{heap}", "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
             f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
             "-cp", classpath, "kafka.Kafka", str(config)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        info = BrokerInfo(f"127.0.0.1:{port}", controller_port, proc.pid, str(self.data_dir), kafka_version())
        self.state_path.write_text(json.dumps(asdict(info)))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(f"Kafka exited at start (status {proc.returncode}); see {self.data_dir / 'logs'}")
            if _port_answers(port) and _broker_ready(info.bootstrap):
                return info
            time.sleep(0.25)
        proc.kill()
        raise BrokerError(f"Kafka did not answer on {info.bootstrap} within {timeout:.0f}s; see {self.data_dir / 'logs'}")

    def stop(self, *, timeout: float = 60.0) -> str | None:
        """Controlled shutdown: "stopped", "killed" (no clean stop within `timeout`, e.g.
        a paused process: SIGKILL), or None when this broker was not running."""
        info = self.info()
        if not info or not _runs(info.pid, self.config_path):
            return None
        os.kill(info.pid, signal.SIGTERM)
        if _process_state(info.pid) in ("T", "t"):
            os.kill(info.pid, signal.SIGCONT)  # a paused broker cannot act on SIGTERM
        deadline = time.monotonic() + timeout
        outcome = "stopped"
        while time.monotonic() < deadline:
            if not _pid_alive(info.pid):
                break
            _reap(info.pid)
            time.sleep(0.2)
        else:
            os.kill(info.pid, signal.SIGKILL)
            outcome = "killed"
        _reap(info.pid)
        return outcome

    def _write_config(self, port: int, controller_port: int) -> Path:
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        config = self.config_path
        config.write_text(_SERVER_PROPERTIES.format(
            port=port, controller_port=controller_port, log_dir=self.data_dir / "log"))
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2.format(logs=self.data_dir / "logs"))
        return config


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _broker_ready(bootstrap: str) -> bool:
    """The broker answers a metadata request (the port alone opens before it serves)."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.describe_cluster()
            return True
        except Exception:  # noqa: BLE001 — any failure means "not yet"
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())
