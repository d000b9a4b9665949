/* wire.h: the JSON types of a wire request's attribute values (wire.c), checked by tm_call
 * before the operation: a mismatch is DynamoDB's SerializationException. */
#ifndef TIDEMARK_API_WIRE_H
#define TIDEMARK_API_WIRE_H

#include "include/tidemark.h"

/* 0, or TM_ERR_SERIALIZATION with e set ("NUMBER_VALUE cannot be converted to String"). */
int api_wire_check(const cJSON *req, tm_error *e);
/* One attribute value ({"N":"5"}); an object that is not one is left to validation. */
int api_wire_check_value(const cJSON *av, tm_error *e);

#endif
