-- The registry of stages and tasks (tasker's stages and tasks tables), and
-- what the generated run and subtask tables lack for the tracker's queries.
-- Names are VARCHAR, not TEXT, so that they can be keys; their lengths are
-- the CHECK limits of the other engines.

CREATE TABLE pipeline_stage (
    `name` VARCHAR(100) NOT NULL PRIMARY KEY CHECK (char_length(`name`) >= 1),
    `position` BIGINT NOT NULL CHECK (`position` >= 1),
    `description` TEXT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE pipeline_task (
    `stage` VARCHAR(100) NOT NULL,
    `name` VARCHAR(200) NOT NULL CHECK (char_length(`name`) >= 1),
    `position` BIGINT NOT NULL CHECK (`position` >= 1),
    `type` VARCHAR(10) CHECK (`type` IN ('R', 'sh', 'python')),
    `script_path` TEXT,
    `script_filename` TEXT,
    `log_path` TEXT,
    `log_filename` TEXT,
    PRIMARY KEY (`stage`, `name`),
    CONSTRAINT pipeline_task_stage_fk FOREIGN KEY (`stage`) REFERENCES pipeline_stage (`name`) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Registrations take this one row's lock first, so that they run one at a
-- time: concurrent ones would otherwise deadlock on InnoDB's gap locks (they
-- read the last position and insert after it).
CREATE TABLE pipeline_registry_lock (
    `id` TINYINT NOT NULL PRIMARY KEY CHECK (`id` = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
INSERT INTO pipeline_registry_lock (`id`) VALUES (1);

-- One subtask per number within a run (the spec language has no uniqueness).
CREATE UNIQUE INDEX pipeline_subtask_run_number_idx ON pipeline_subtask (run_id, subtask_number);

-- The latest run of a task, and history by stage and task, newest first.
CREATE INDEX pipeline_run_stage_task_idx ON pipeline_run (stage, task, created_at DESC, id DESC);
CREATE INDEX pipeline_run_created_idx ON pipeline_run (created_at DESC, id DESC);
