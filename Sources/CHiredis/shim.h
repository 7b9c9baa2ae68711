#ifndef CONTACTS_CHIREDIS_SHIM_H
#define CONTACTS_CHIREDIS_SHIM_H
// Only the API common to hiredis 0.14 and 1.x is used from Swift: redisConnectWithTimeout,
// redisConnectUnixWithTimeout, redisSetTimeout, redisCommandArgv, freeReplyObject, redisFree.
#include <hiredis/hiredis.h>
#endif
