-- 001_schema.sql: the controller's first schema.
--
-- Timestamps are stored as timestamptz and travel to and from C as bigint
-- microseconds since the epoch through ts_us() and us_ts(); NULL is 0.

CREATE FUNCTION ts_us(t timestamptz) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT coalesce((extract(epoch FROM t) * 1000000)::bigint, 0) $$;

CREATE FUNCTION us_ts(us bigint) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN us IS NULL OR us = 0 THEN NULL
             ELSE timestamptz 'epoch' + us * interval '1 microsecond' END $$;

CREATE TABLE nodes (
	id            uuid PRIMARY KEY,
	hostname      text NOT NULL DEFAULT '',
	state         text NOT NULL DEFAULT 'offline'
	              CHECK (state IN ('online', 'offline')),
	last_seen_at  timestamptz,
	agent_version text NOT NULL DEFAULT '',
	address       text NOT NULL DEFAULT '',
	secret_hash   text,
	created_at    timestamptz NOT NULL DEFAULT now()
);

-- One-time enrollment tokens, stored hashed. used_by_node has no foreign
-- key: the token is consumed in the statement that creates the node.
CREATE TABLE enroll_tokens (
	hash         text PRIMARY KEY,
	created_at   timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NOT NULL,
	used_at      timestamptz,
	used_by_node uuid
);

CREATE TABLE disks (
	id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	node_id        uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
	device_path    text NOT NULL,
	capacity_bytes bigint NOT NULL DEFAULT 0,
	interface      text NOT NULL DEFAULT '',
	model          text NOT NULL DEFAULT '',
	vendor         text NOT NULL DEFAULT '',
	serial         text NOT NULL DEFAULT '',
	is_osd         boolean NOT NULL DEFAULT false,
	is_mon         boolean NOT NULL DEFAULT false,
	has_filesystem boolean NOT NULL DEFAULT false,
	available      boolean NOT NULL DEFAULT false,
	reject_reasons jsonb NOT NULL DEFAULT '[]'
	               CHECK (jsonb_typeof(reject_reasons) = 'array'),
	updated_at     timestamptz NOT NULL DEFAULT now(),
	UNIQUE (node_id, device_path)
);

-- agent_done: the agent has reported the run finished (or stopped); a
-- started run that is terminal here but not agent_done must be stopped.
CREATE TABLE task_runs (
	id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	task_name         text NOT NULL,
	node_id           uuid NOT NULL REFERENCES nodes (id),
	state             text NOT NULL DEFAULT 'pending'
	                  CHECK (state IN ('pending', 'running', 'completed',
	                                   'failed', 'canceled')),
	params            jsonb NOT NULL DEFAULT '{}'
	                  CHECK (jsonb_typeof(params) = 'object'),
	result            jsonb,
	error             text,
	device_path       text,
	created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
	started_at        timestamptz,
	completed_at      timestamptz,
	created_by        text NOT NULL DEFAULT '',
	idempotency_key   text UNIQUE,
	request_hash      text,
	last_event_seq    bigint NOT NULL DEFAULT 0,
	log_count         bigint NOT NULL DEFAULT 0,
	agent_done        boolean NOT NULL DEFAULT false,
	agent_finished_at timestamptz
);

-- One active run per device of a node.
CREATE UNIQUE INDEX task_runs_device_active ON task_runs (node_id, device_path)
	WHERE state IN ('pending', 'running') AND device_path IS NOT NULL;
CREATE INDEX task_runs_recent ON task_runs (created_at DESC, id DESC);
CREATE INDEX task_runs_node_state ON task_runs (node_id, state);
-- Runs an agent is (or should be) executing: STOP work, active runs.
CREATE INDEX task_runs_agent_active ON task_runs (node_id)
	WHERE started_at IS NOT NULL AND NOT agent_done;

-- The hot table. No foreign key to task_runs on purpose: the per-row
-- check roughly triples the cost of a batch insert, and lines are only
-- written by store_events_apply() for runs it holds locked.
CREATE TABLE task_logs (
	run_id  uuid NOT NULL,
	seq     bigint NOT NULL,
	ts      timestamptz NOT NULL,
	level   text NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
	message text NOT NULL,
	PRIMARY KEY (run_id, seq)
);

CREATE TABLE task_questions (
	id           uuid PRIMARY KEY,
	run_id       uuid NOT NULL REFERENCES task_runs (id) ON DELETE CASCADE,
	prompt       text NOT NULL,
	options      jsonb NOT NULL CHECK (jsonb_typeof(options) = 'array'),
	state        text NOT NULL DEFAULT 'open'
	             CHECK (state IN ('open', 'answered', 'expired', 'closed')),
	answer       text,
	answered_by  text,
	answered_at  timestamptz,
	created_at   timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NOT NULL,
	delivered_at timestamptz
);

CREATE INDEX task_questions_run ON task_questions (run_id);
CREATE INDEX task_questions_open ON task_questions (expires_at)
	WHERE state = 'open';

CREATE TABLE api_keys (
	id         bigserial PRIMARY KEY,
	name       text NOT NULL,
	scope      text NOT NULL CHECK (scope IN ('read', 'admin')),
	hash       text NOT NULL UNIQUE,
	created_at timestamptz NOT NULL DEFAULT now(),
	revoked_at timestamptz
);

CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name)
	WHERE revoked_at IS NULL;

CREATE TABLE audit_log (
	id          bigserial PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT now(),
	actor       text NOT NULL,
	action      text NOT NULL,
	object_type text,
	object_id   text,
	status      integer NOT NULL,
	detail      text
);

CREATE INDEX audit_log_at ON audit_log (at);
