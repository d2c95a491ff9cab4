#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests and for trying hardware=slurm (run as root):
#   eval "$(bash scripts/slurm_local.sh start /tmp/slurm)"   # prints `export SLURM_CONF=...`
#   auxrun -m hardware=slurm hardware.device=cpu hydra.launcher.partition=debug ...
#   bash scripts/slurm_local.sh stop /tmp/slurm
# Everything lives in the given folder: the config (ProctrackType=proctrack/linuxproc,
# TaskPlugin=task/none, one node with this machine's CPUs, one partition `debug`, no accounting), a
# private munged with its own key and socket, state, spool and logs. `start` returns once the node is
# idle; `stop` stops the three daemons by their pid files. Needs Debian's slurm-wlm and munge
# (apt-get install slurm-wlm munge). KILL_WAIT (seconds between SIGTERM and SIGKILL, default 30)
# is Slurm's KillWait.
set -euo pipefail

usage() { echo "usage: $0 start|stop|status FOLDER" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
conf="$dir/slurm.conf"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

stop_pid() {  # the daemon whose pid file this is, politely, then for good
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case "$action" in
stop)
  # jobs first, so that no job step outlives the cluster
  if [ -f "$conf" ]; then SLURM_CONF=$conf scancel --full --quiet --user=root 2>/dev/null || true; fi
  stop_pid "$dir/slurmd.pid"
  stop_pid "$dir/slurmctld.pid"
  stop_pid "$dir/munged.pid"
  exit 0
  ;;
status)
  SLURM_CONF=$conf sinfo -h -o '%n %T'
  exit 0
  ;;
start) ;;
*) usage ;;
esac

for cmd in munged slurmctld slurmd sinfo; do
  command -v "$cmd" >/dev/null || { echo "slurm_local: $cmd not found (apt-get install slurm-wlm munge)" >&2; exit 3; }
done
[ "$(id -u)" -eq 0 ] || { echo "slurm_local: slurmd must run as root" >&2; exit 3; }

host=$(hostname -s)
cpus=$(getconf _NPROCESSORS_ONLN)  # not nproc, which OMP_NUM_THREADS lowers
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chmod 700 "$dir/munge"

# a private munged: its own key and socket, so a system munge (or another test's) is left alone
if [ ! -f "$dir/munge/munge.key" ]; then
  head -c 1024 /dev/urandom > "$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
fi
munged --force --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munged.seed"

cat > "$conf" <<EOF
ClusterName=auxrun-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=${KILL_WAIT:-30}
SchedulerParameters=sched_interval=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

export SLURM_CONF=$conf
slurmctld -f "$conf"
slurmd -f "$conf" -N "$host"

# until the node is idle: the daemons talk through munge and the node registered
for _ in $(seq 150); do
  state=$(sinfo -h -n "$host" -o '%T' 2>/dev/null || true)
  if [ "$state" = "idle" ]; then
    echo "export SLURM_CONF=$conf"
    exit 0
  fi
  sleep 0.2
done
echo "slurm_local: node $host not idle after 30 s (state '${state:-none}'); logs in $dir" >&2
tail -n 5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
bash "$0" stop "$dir"
exit 1
