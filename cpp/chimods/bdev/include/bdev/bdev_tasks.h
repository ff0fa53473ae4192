#pragma once
/**
 * @file bdev_tasks.h
 * Tasks of the bdev module: a block device backed by a file (durable) or RAM.
 * Pool args (CreatePool's args_): "file=PATH,size=64m[,block=4096]" or
 * "ram,size=64m[,block=4096]". Offsets and sizes are in bytes; Allocate and
 * Free work on whole blocks. Every access is bounds-checked: an out-of-range
 * or unallocated range completes with kTaskBadArgument, never a crash.
 *
 * The tasks are generated from chimaera_mod.yaml (bdev_schema.h, issue 14):
 *  - AllocateTask: IN size_, OUT offset_.
 *  - FreeTask: IN offset_, size_.
 *  - WriteTask: IN offset_, data_ (CHI_WRITE bulk of data_size_ bytes).
 *  - ReadTask: IN offset_; OUT data_ (CHI_EXPOSE bulk): the handler reads
 *    data_capacity_ bytes into it and sets data_size_.
 * Their shared-memory buffers belong to the caller (bdev_client.h takes them
 * as ipc::Pointer: a file read straight into the buffer is never copied).
 */
#include "bdev_schema.h"
