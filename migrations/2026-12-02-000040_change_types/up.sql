-- A change's type and its category agree (issue 23): a category declares the record types it
-- accepts (empty: every type of its kind), and a workflow is pre-approved only when a manager
-- marks it so. Out of the box each change category takes its own type, and only the Standard
-- change workflow is pre-approved.
ALTER TABLE categories ADD COLUMN record_types text[] NOT NULL DEFAULT '{}';
UPDATE categories SET record_types = ARRAY['normal'] WHERE record_kind = 'change' AND name = 'Normal change';
UPDATE categories SET record_types = ARRAY['standard'] WHERE record_kind = 'change' AND name = 'Standard change';
UPDATE categories SET record_types = ARRAY['emergency'] WHERE record_kind = 'change' AND name = 'Emergency change';
ALTER TABLE workflows ADD COLUMN pre_approved boolean NOT NULL DEFAULT false;
UPDATE workflows SET pre_approved = true WHERE record_kind = 'change' AND name = 'Standard change';
