-- 002_run_reads.sql: what GET /task/run/{id} and the runs lists read
-- comes from the run row and one small index.
--
-- The run query used to join nodes for the hostname (PostgreSQL picks a
-- hash join over the whole table for a one-row lookup) and to sort the
-- run's open questions; together about three times the cost of the
-- primary-key read itself. The hostname and the newest open question are
-- now kept on the run by triggers, so no write path can forget them.

ALTER TABLE task_runs ADD COLUMN node_hostname text NOT NULL DEFAULT '';

UPDATE task_runs r SET node_hostname = n.hostname
	FROM nodes n WHERE n.id = r.node_id;

CREATE FUNCTION task_runs_set_hostname() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.node_hostname := coalesce((SELECT hostname FROM nodes
	                               WHERE id = NEW.node_id), '');
	RETURN NEW;
END $$;

CREATE TRIGGER task_runs_hostname BEFORE INSERT OR UPDATE OF node_id
	ON task_runs FOR EACH ROW EXECUTE FUNCTION task_runs_set_hostname();

-- Locks nodes then runs; nothing locks them the other way round.
CREATE FUNCTION nodes_hostname_to_runs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE task_runs SET node_hostname = NEW.hostname
		WHERE node_id = NEW.id;
	RETURN NULL;
END $$;

CREATE TRIGGER nodes_hostname AFTER UPDATE OF hostname ON nodes
	FOR EACH ROW WHEN (OLD.hostname IS DISTINCT FROM NEW.hostname)
	EXECUTE FUNCTION nodes_hostname_to_runs();

-- A question's state only changes with its run locked first (events,
-- expiry, cancel, answer all lock the run row before the question), so
-- updating the run from here cannot deadlock.
ALTER TABLE task_runs ADD COLUMN open_question_id uuid;

CREATE FUNCTION task_questions_to_run() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	newest uuid;
BEGIN
	SELECT q.id INTO newest FROM task_questions q
		WHERE q.run_id = NEW.run_id AND q.state = 'open'
		ORDER BY q.created_at DESC, q.id DESC LIMIT 1;
	UPDATE task_runs SET open_question_id = newest
		WHERE id = NEW.run_id
		AND open_question_id IS DISTINCT FROM newest;
	RETURN NULL;
END $$;

CREATE TRIGGER task_questions_open AFTER INSERT OR UPDATE OF state
	ON task_questions FOR EACH ROW
	EXECUTE FUNCTION task_questions_to_run();

UPDATE task_runs r SET open_question_id = (SELECT q.id FROM task_questions q
		WHERE q.run_id = r.id AND q.state = 'open'
		ORDER BY q.created_at DESC, q.id DESC LIMIT 1)
	WHERE r.id IN (SELECT run_id FROM task_questions
	               WHERE state = 'open');

-- One index for both uses of open questions: a run's newest (the
-- trigger, without a sort) and the expiry sweep (it holds only open
-- ones, so it stays small).
DROP INDEX task_questions_open;
CREATE INDEX task_questions_open_run ON task_questions (run_id, created_at DESC)
	WHERE state = 'open';
