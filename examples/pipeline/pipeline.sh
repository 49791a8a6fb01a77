#!/usr/bin/env bash
# An example pipeline tracked by taskmodel: three stages; STATIC's task has
# three subtasks, the second processing items with parallel workers that each
# increment the subtask's count. See docs/pipeline.md.
#
#   ./pipeline.sh                 (taskmodel on PATH)
#   TASKMODEL=/path/to/taskmodel ITEMS=200 WORKERS=8 ./pipeline.sh
#   taskmodel watch               (in another terminal, from this directory)
set -euo pipefail
cd "$(dirname "$0")"

TM=${TASKMODEL:-taskmodel}
ITEMS=${ITEMS:-40}      # items of subtask 2
WORKERS=${WORKERS:-4}   # parallel workers
DELAY=${DELAY:-0.1}     # seconds of "work" per item

# Registering is idempotent: every run of the pipeline does it.
"$TM" -q pipeline register pipeline.yml

# fail_run marks the current run FAILED (its unfinished subtasks too) when a
# command fails, with the line that failed.
RUN=""
fail_run() {
	local line=$1
	[ -n "$RUN" ] && "$TM" run fail "$RUN" "pipeline.sh failed at line $line" || true
}
trap 'fail_run $LINENO' ERR

# --- PREREQ ------------------------------------------------------------------
RUN=$("$TM" run start PREREQ "Check tools")
for tool in seq xargs sort; do
	command -v "$tool" >/dev/null || { "$TM" run fail "$RUN" "$tool is missing"; exit 1; }
done
"$TM" run complete "$RUN" "seq, xargs and sort present"

# --- STATIC ------------------------------------------------------------------
RUN=$("$TM" run start STATIC "Build Database" --subtasks 3 --env env=example)
# Memory and CPU of this script and its children, every second, until the run ends.
"$TM" run sample "$RUN" --pid $$ --interval 1s &

"$TM" subtask start "$RUN" 1 "Loading data"
sleep "$DELAY"
"$TM" subtask complete "$RUN" 1 "data loaded"

"$TM" subtask start "$RUN" 2 "Processing records" --items "$ITEMS"
# Each worker processes one item and increments the count: the increments are
# atomic in the database, so parallel workers never lose one.
seq "$ITEMS" | xargs -P "$WORKERS" -I{} sh -c 'sleep "$1" && "$2" -q subtask increment "$3" 2' _ "$DELAY" "$TM" "$RUN"
"$TM" subtask complete "$RUN" 2 "all records processed"

"$TM" subtask start "$RUN" 3 "Creating indexes"
# No --percent: the run's percent follows its subtasks (two of three done: 67%).
"$TM" run update "$RUN" RUNNING --message "indexing"
sleep "$DELAY"
"$TM" subtask complete "$RUN" 3
"$TM" run complete "$RUN" "database built"

# --- DAILY -------------------------------------------------------------------
RUN=$("$TM" run start DAILY "Report")
"$TM" history --limit 5 > report.txt
"$TM" run complete "$RUN" "report.txt written"
RUN=""

wait # for the sampler
"$TM" status
