// admin client: header-only today; this file anchors the chimaera_admin_client
// library (seed 002: "mainly for global variables and singletons").
#include "admin/admin_client.h"
