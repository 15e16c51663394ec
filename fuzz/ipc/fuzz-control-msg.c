/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-control-msg — vd_control_msg_decode on (type u16 LE, payload) inputs. */
#include "fuzz-ipc-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size - 2 > VD_IPC_MAX_PAYLOAD)
        return 0;
    fuzz_one_message(true, (uint16_t)(data[0] | data[1] << 8), data + 2, size - 2);
    return 0;
}
