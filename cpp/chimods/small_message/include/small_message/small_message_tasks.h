#pragma once
/** @file small_message_tasks.h  Tasks of small_message: the empty task MdTask
 * (kMd), generated from chimaera_mod.yaml (small_message_schema.h). */
#include "small_message_schema.h"
