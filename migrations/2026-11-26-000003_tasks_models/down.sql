DROP TABLE tasks;
ALTER TABLE releases DROP COLUMN model_version_id;
DROP TABLE model_tasks;
DROP TABLE release_model_versions;
DROP TABLE release_models;
ALTER TABLE phases DROP COLUMN require_tasks_done;
