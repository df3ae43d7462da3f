#!/usr/bin/env bash
# Memory and CPU of the menu-bar app, panel open and closed, and how fast the panel reopens.
#
#   bash src-tauri/bench/memory.sh [path/to/paios-app]
#
# Runs the app on a virtual display (Xvfb) with its own session bus and a throw-away PAIOS_HOME,
# then prints RSS and PSS of the whole process tree — the app, its window host (the child process
# that holds every web view) or the spare one waiting for the next window, and the window host's
# WebKit helpers; supervised services excluded —
# one line per process, and the tree's CPU use while idle (from the kernel's per-thread run time,
# over 30 s): with the panel open, and after it has been hidden for a minute (the window host
# exits PAIOS_APP_PANEL_KEEP_S after its last window was hidden, default 20 s). Then how fast the
# panel reopens: after that minute (a new window host) and right after hiding (kept web view);
# then MINUTE_RUNS (default 6, that one included) reopens each after a minute closed, as p50
# and max; then COLD_RUNS (default 10) more cold reopens, each after the window host has exited,
# with a 1 s keep period (an app of its own), as p50 and max. Each reopen after a minute is also
# taken apart (from the window host's debug log): when the host had Tauri set up, the web view was
# built, the page started and finished loading, and what the whole machine read from disk meanwhile
# (an outlier is usually library pages the kernel reclaimed while the panel was closed).
# Figures only; nothing is asserted.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
app="${1:-${CARGO_TARGET_DIR:-$here/../target}/debug/paios-app}"
[ -x "$app" ] || { echo "build the app first: cargo build -p paios-app" >&2; exit 2; }
for tool in Xvfb dbus-daemon; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install xvfb dbus)" >&2; exit 2; }
done

work="$(mktemp -d)"
cleanup() { kill "${app_pid:-}" "${x_pid:-}" "${bus_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$work/display" 2>/dev/null &
x_pid=$!
while [ ! -s "$work/display" ]; do sleep 0.1; done
export DISPLAY=":$(cat "$work/display")"
dbus-daemon --session --nofork --print-address=3 3>"$work/bus" 2>/dev/null &
bus_pid=$!
while [ ! -s "$work/bus" ]; do sleep 0.1; done
export DBUS_SESSION_BUS_ADDRESS="$(head -n1 "$work/bus")"
export PAIOS_HOME="$work/home" PAIOS_UI_DIR="$here/../ui" PAIOS_LOG=info,paios_app::windows=debug
# Hermetic: the usage ledger must not read this machine's own brain logs.
export CLAUDE_CONFIG_DIR="$work/home/claude" CODEX_HOME="$work/home/codex"
mkdir -p "$PAIOS_HOME"
printf '[api]\nport = 0\n' >"$PAIOS_HOME/paios.toml"

tree() { # the app, then every descendant that is the app's binary or a WebKit helper
  local queue="$app_pid" p
  while [ -n "$queue" ]; do
    set -- $queue; p=$1; shift; queue="$*"
    echo "$p"
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
      case "$(cat /proc/"$c"/comm 2>/dev/null)" in
        "$(cat /proc/"$app_pid"/comm)"|WebKit*) queue="$queue $c" ;;
      esac
    done
  done
}
kb() { awk -v k="$1:" '$1 == k {s += $2} END {print s + 0}' "${@:2}" 2>/dev/null || echo 0; }
runtime_ns() { # run time of every thread of the tree so far
  local t=0 p
  for p in $(tree); do
    t=$((t + $(cat /proc/"$p"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}')))
  done
  echo "$t"
}
report() {
  local label="$1" rss=0 pss=0 p r q
  echo "$label"
  for p in $(tree); do
    r=$(kb Rss "/proc/$p/smaps_rollup"); q=$(kb Pss "/proc/$p/smaps_rollup")
    rss=$((rss + r)); pss=$((pss + q))
    printf '  %-16s pid %-7s RSS %4d MB  PSS %4d MB  (anonymous %d MB)\n' "$(cat "/proc/$p/comm" 2>/dev/null)" "$p" \
      $((r / 1024)) $((q / 1024)) $(($(kb Anonymous "/proc/$p/smaps_rollup") / 1024))
  done
  local t0 t1; t0=$(runtime_ns); sleep 30; t1=$(runtime_ns)
  printf '  whole tree         RSS %4d MB  PSS %4d MB  CPU %.3f%% (30 s)\n' $((rss / 1024)) $((pss / 1024)) \
    "$(echo "($t1 - $t0) / 30 / 10000000" | bc -l)"
}

plain() { sed 's/\x1b\[[0-9;]*m//g' "$work/app.log"; }
ms() { plain | grep "$1" | "$2" -n1 | grep -o 'ms=[0-9]*' | cut -d= -f2; }
at() { # the time of day, in ms, of the last log line matching $1
  plain | grep "$1" | tail -n1 | awk '{split(substr($1, 12, 15), t, ":"); printf "%d", (t[1] * 3600 + t[2] * 60 + t[3]) * 1000}'
}
disk() { awk '$1 == "pgpgin" {i = $2} $1 == "pgmajfault" {f = $2} END {print i, f}' /proc/vmstat; }
explain() { # where the last reopen's time went; $1 $2: `disk` before it
  local total end start after
  total=$(ms 'panel opened' tail); end=$(at 'panel opened'); start=$((end - total)); after=($(disk))
  printf '    %4d ms: host set up +%d, web view built +%d, page started +%d, loaded +%d; read %d KB from disk, %d major faults (whole machine)\n' \
    "$total" $(($(at 'order run') - start)) $(($(at 'web view built') - start)) $(($(at 'event=Started') - start)) \
    $(($(at 'event=Finished') - start)) $((after[0] - $1)) $((after[1] - $2))
}

"$app" --open-panel --keep-panel-on-blur >"$work/app.log" 2>&1 &
app_pid=$!
until grep -q 'panel opened' "$work/app.log"; do sleep 0.2; kill -0 "$app_pid" || { cat "$work/app.log"; exit 1; }; done
sleep 5
report "panel open, idle"
"$app" --hide-panel
sleep 60
report "panel closed for 60 s"
show_and_wait() { # show the panel, wait until a new web view has loaded its page
  local opened; opened=$(grep -c 'panel opened' "$work/app.log" || true)
  "$app" --show-panel
  until [ "$(grep -c 'panel opened' "$work/app.log")" -gt "$opened" ]; do sleep 0.1; done
}
before=($(disk))
show_and_wait
minute=("$(ms 'panel opened' tail)")
why=("$(explain "${before[@]}")")
"$app" --hide-panel; sleep 0.5; "$app" --show-panel; sleep 0.5
echo "reopen right after hiding (kept web view): $(ms 'panel shown' tail) ms"
echo "first open (app just started, page loaded): $(ms 'panel opened' head) ms"
# MINUTE_RUNS (default 6) reopens in all, each after the panel was closed for a full minute
# (the first one above, after 90 s): the window host has exited, its spare has waited 40 s.
for _ in $(seq 2 "${MINUTE_RUNS:-6}"); do
  sleep 3; "$app" --hide-panel; sleep 60
  before=($(disk))
  show_and_wait
  minute+=("$(ms 'panel opened' tail)")
  why+=("$(explain "${before[@]}")")
done
sorted=($(printf '%s\n' "${minute[@]}" | sort -n))
echo "reopens after a minute closed (new window host, page loaded), ms: ${minute[*]}"
echo "  p50 ${sorted[$(( (${#sorted[@]} - 1) / 2 ))]} ms, max ${sorted[-1]} ms"
printf '%s\n' "${why[@]}"

# Cold reopens: a fresh app with a 1 s keep period, so each show needs a new window host.
# Quit it; an app that does not exit promptly is a finding of its own, not something to wait on.
kill "$app_pid"
for _ in $(seq 300); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$app_pid" 2>/dev/null; then
  echo "the app did not quit within 30 s of SIGTERM; its log ends:" >&2
  tail -n 5 "$work/app.log" >&2
  exit 1
fi
wait "$app_pid" 2>/dev/null || true
PAIOS_APP_PANEL_KEEP_S=1 "$app" --open-panel --keep-panel-on-blur >"$work/app.log" 2>&1 &
app_pid=$!
until grep -q 'panel opened' "$work/app.log"; do sleep 0.2; kill -0 "$app_pid" || { cat "$work/app.log"; exit 1; }; done
runs=()
for _ in $(seq "${COLD_RUNS:-10}"); do
  exited=$(grep -c 'window host exited' "$work/app.log" || true)
  "$app" --hide-panel
  until [ "$(grep -c 'window host exited' "$work/app.log")" -gt "$exited" ]; do sleep 0.1; done
  sleep 2
  opened=$(grep -c 'panel opened' "$work/app.log" || true)
  "$app" --show-panel
  until [ "$(grep -c 'panel opened' "$work/app.log")" -gt "$opened" ]; do sleep 0.1; done
  runs+=("$(ms 'panel opened' tail)")
done
sorted=($(printf '%s\n' "${runs[@]}" | sort -n))
echo "cold reopens (new window host, page loaded), ms: ${runs[*]}"
echo "  p50 ${sorted[$(( (${#sorted[@]} - 1) / 2 ))]} ms, max ${sorted[-1]} ms"
