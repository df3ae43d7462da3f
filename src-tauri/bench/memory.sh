#!/usr/bin/env bash
# Memory and CPU of the menu-bar app, panel open and closed, and how fast the panel reopens.
#
#   bash src-tauri/bench/memory.sh [path/to/paios-app]
#
# Runs the app on a virtual display (Xvfb) with its own session bus and a throw-away PAIOS_HOME,
# then prints RSS and PSS of the whole process tree (app + WebKit helpers; supervised services
# excluded) and CPU use while idle: with the panel open, and after it has been hidden for a
# minute (its web view is released after PAIOS_APP_PANEL_KEEP_S, default 20 s). Figures only;
# nothing is asserted.
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
export PAIOS_HOME="$work/home" PAIOS_UI_DIR="$here/../ui" PAIOS_LOG=info
mkdir -p "$PAIOS_HOME"
printf '[api]\nport = 0\n' >"$PAIOS_HOME/paios.toml"

tree() { # the app and its WebKit helpers
  echo "$app_pid"
  ps -o pid=,comm= --ppid "$app_pid" | awk '$2 ~ /^WebKit/ {print $1}'
}
kb() { awk -v k="$1:" '$1 == k {s += $2} END {print s + 0}' "${@:2}" 2>/dev/null || echo 0; }
ticks() { local t=0; for p in $(tree); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
report() {
  local label="$1" rss=0 pss=0 names=""
  for p in $(tree); do
    rss=$((rss + $(kb Rss "/proc/$p/smaps_rollup")))
    pss=$((pss + $(kb Pss "/proc/$p/smaps_rollup")))
    names="$names $(cat "/proc/$p/comm" 2>/dev/null)"
  done
  local t0 t1 hz; hz=$(getconf CLK_TCK); t0=$(ticks); sleep 10; t1=$(ticks)
  printf '%-28s RSS %4d MB  PSS %4d MB  CPU %5.2f%%  (%s )\n' "$label" $((rss / 1024)) $((pss / 1024)) \
    "$(echo "($t1 - $t0) * 100 / $hz / 10" | bc -l)" "$names"
}

plain() { sed 's/\x1b\[[0-9;]*m//g' "$work/app.log"; }
ms() { plain | grep "$1" | "$2" -n1 | grep -o 'ms=[0-9]*' | cut -d= -f2; }

"$app" --open-panel --keep-panel-on-blur >"$work/app.log" 2>&1 &
app_pid=$!
until grep -q 'panel opened' "$work/app.log"; do sleep 0.2; kill -0 "$app_pid" || { cat "$work/app.log"; exit 1; }; done
sleep 5
report "panel open, idle"
"$app" --hide-panel
sleep 60
report "panel closed for 60 s"
"$app" --show-panel
until [ "$(grep -c 'panel opened' "$work/app.log")" -ge 2 ]; do sleep 0.1; done
echo "reopen (new web view, page loaded): $(ms 'panel opened' tail) ms"
"$app" --hide-panel; sleep 0.5; "$app" --show-panel; sleep 0.5
echo "reopen (kept web view): $(ms 'panel shown' tail) ms"
echo "first open (cold, page loaded): $(ms 'panel opened' head) ms"
