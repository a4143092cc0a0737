/*
 * route_questions.c: operator questions: GET /task/questions/pending and
 * POST /task/question/{questionId}/answer, whose answer the hub then
 * carries to the agent.
 */
#include <stdio.h>
#include <string.h>

#include "api_json.h"
#include "http_routes.h"
#include "hub.h"
#include "nt_err.h"
#include "nt_json.h"

void
route_questions_pending(struct http_req *r)
{
	struct store_question *items = NULL;
	size_t n = 0;
	cJSON *arr;
	int rv;

	if ((rv = store_question_pending(r->store, &items, &n)) != NT_OK) {
		http_reply_err(r, rv, "questions");
		return;
	}
	arr = cJSON_CreateArray();
	for (size_t i = 0; arr != NULL && i < n; i++)
		arr = api_json_append(arr, api_json_question(&items[i]));
	store_question_free(items, n);
	http_reply_json(r, 200, arr);
}

/* {"answer": "..."}; replies 400 and returns NULL when malformed. */
static const char *
question_answer_read(struct http_req *r, const cJSON *doc)
{
	static const char *const fields[] = {"answer", NULL};
	const char *answer = NULL;
	char err[160];

	if (api_json_check_fields(doc, fields, "", err, sizeof(err)) != NT_OK) {
		http_reply_bad_request(r, "%s", err);
		return NULL;
	}
	switch (nt_json_string(doc, "answer", &answer)) {
	case NT_JSON_ABSENT:
		http_reply_bad_request(r, "answer is required");
		return NULL;
	case NT_JSON_WRONGTYPE:
		http_reply_bad_request(r, "answer must be a string");
		return NULL;
	default:
		return answer;
	}
}

/*
 * The store said no: say why, from the question as it is now. This costs
 * a second query, but only on the error path.
 */
static void
question_refused(struct http_req *r, const char *id, int err)
{
	struct store_question q;
	int rv;

	memset(&q, 0, sizeof(q));
	if ((rv = store_question_get(r->store, id, &q)) != NT_OK) {
		http_reply_err(r, rv, "question");
		return;
	}
	if (err == NT_EINVAL) {
		char *opts = q.options ? q.options : "[]";
		http_reply_bad_request(r, "answer must be one of %s", opts);
	} else if (strcmp(q.state, "open") == 0) {
		/* Open but refused: its run has ended meanwhile. */
		http_reply_error(r, 409, "conflict",
		                 "the question's run has already ended");
	} else {
		http_reply_error(r, 409, "conflict", "question is already %s",
		                 q.state);
	}
	store_question_fini(&q);
}

void
route_question_answer(struct http_req *r)
{
	char id[NT_UUID_BUFLEN], node_id[NT_UUID_BUFLEN];
	const char *answer;
	cJSON *doc;
	int rv;

	if (!http_path_uuid(r, "questionId", "question", id))
		return;
	if (http_read_json(r, false, &doc, NULL) != NT_OK)
		return;
	if ((answer = question_answer_read(r, doc)) == NULL) {
		cJSON_Delete(doc);
		return;
	}
	rv = store_question_answer(r->store, id, answer, r->actor, node_id);
	if (rv == NT_OK) {
		hub_notify_node(r->hub, node_id);
		snprintf(r->detail, sizeof(r->detail), "answered \"%.64s\"",
		         answer);
		http_reply_status(r, 200, "answered");
	} else if (rv == NT_EINVAL || rv == NT_ECONFLICT) {
		question_refused(r, id, rv);
	} else {
		http_reply_err(r, rv, "question");
	}
	cJSON_Delete(doc);
}
