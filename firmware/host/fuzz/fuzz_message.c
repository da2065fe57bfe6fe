/* libFuzzer harness: arbitrary text as a kiln.v1 frame from the gateway, through the
 * validator and the device's reader, and into an online device session. */
#include <stddef.h>
#include <stdint.h>

#include "cJSON.h"
#include "kiln_client.h"
#include "kiln_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kiln_message_result_t r;
    cJSON *tree = NULL;
    (void)kiln_message_validate((const char *)data, size, KILN_SENDER_ANY, &r, &tree);
    cJSON_Delete(tree);
    kiln_incoming_t in;
    tree = NULL;
    (void)kiln_client_parse((const char *)data, size, &in, &tree, &r);
    cJSON_Delete(tree);
    return 0;
}
