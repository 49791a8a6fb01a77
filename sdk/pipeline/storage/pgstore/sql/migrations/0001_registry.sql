-- Seed 003's stages and tasks tables (registrations), and what the generated
-- run and subtask tables lack for the tracker's queries.

CREATE TABLE pipeline_stage (
    name text PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 100),
    position bigint NOT NULL CHECK (position >= 1),
    description text
);

CREATE TABLE pipeline_task (
    stage text NOT NULL REFERENCES pipeline_stage (name) ON DELETE CASCADE,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    position bigint NOT NULL CHECK (position >= 1),
    type text CHECK (type IN ('R', 'sh', 'python')),
    script_path text,
    script_filename text,
    log_path text,
    log_filename text,
    PRIMARY KEY (stage, name)
);

-- One subtask per number within a run (the spec language has no uniqueness).
CREATE UNIQUE INDEX pipeline_subtask_run_number_idx ON pipeline_subtask (run_id, subtask_number);

-- The latest run of a task, and history by stage and task, newest first.
CREATE INDEX pipeline_run_stage_task_idx ON pipeline_run (stage, task, created_at DESC, id DESC);
CREATE INDEX pipeline_run_created_idx ON pipeline_run (created_at DESC, id DESC);
