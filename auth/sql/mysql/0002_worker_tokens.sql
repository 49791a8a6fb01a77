-- Worker tokens: a token with worker_models set may only run the worker
-- protocol (claim, heartbeat, progress, complete, fail) for those models,
-- a comma-separated list of model names; NULL for a user's token.
ALTER TABLE taskmodel_token ADD COLUMN worker_models VARCHAR(4000) NULL,
    ADD CONSTRAINT taskmodel_token_worker_models_check
        CHECK (worker_models IS NULL OR CHAR_LENGTH(worker_models) BETWEEN 1 AND 4000);
