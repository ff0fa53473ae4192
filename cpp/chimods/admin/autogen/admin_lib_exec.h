#pragma once
// Dispatch by method id for the admin module (seed 002 "lib_exec.h").
// Hand-written until the generator lands. Included inside class Runtime.

void Run(chi::u32 method, chi::ipc::FullPtr<chi::Task> task, chi::RunContext &rctx) override {
  switch (method) {
    case Method::kCreate: Create(chi::ipc::FullPtr<CreateTask>(task), rctx); return;
    case Method::kDestroy: Destroy(chi::ipc::FullPtr<DestroyTask>(task), rctx); return;
    case Method::kCreatePool: CreatePool(chi::ipc::FullPtr<CreatePoolTask>(task), rctx); return;
    case Method::kDestroyPool: DestroyPool(chi::ipc::FullPtr<DestroyPoolTask>(task), rctx); return;
    case Method::kStopRuntime: StopRuntime(chi::ipc::FullPtr<StopRuntimeTask>(task), rctx); return;
    default: task->SetError(chi::kTaskUnsupportedMethod, "admin has no method " + std::to_string(method)); return;
  }
}

void Monitor(chi::MonitorModeId mode, chi::u32 method, chi::ipc::FullPtr<chi::Task> task,
             chi::RunContext &rctx) override {
  switch (method) {
    case Method::kCreate: MonitorCreate(mode, chi::ipc::FullPtr<CreateTask>(task), rctx); return;
    case Method::kDestroy: MonitorDestroy(mode, chi::ipc::FullPtr<DestroyTask>(task), rctx); return;
    case Method::kCreatePool: MonitorCreatePool(mode, chi::ipc::FullPtr<CreatePoolTask>(task), rctx); return;
    case Method::kDestroyPool: MonitorDestroyPool(mode, chi::ipc::FullPtr<DestroyPoolTask>(task), rctx); return;
    case Method::kStopRuntime: MonitorStopRuntime(mode, chi::ipc::FullPtr<StopRuntimeTask>(task), rctx); return;
    default: return;  // unknown methods are routed by the default lane and fail in Run
  }
}

void Del(const chi::ipc::MemContext &, chi::u32 method, chi::ipc::FullPtr<chi::Task> task) override {
  auto *ipc = CHI_IPC_MANAGER;
  switch (method) {
    case Method::kCreatePool: ipc->DelTask(chi::ipc::FullPtr<CreatePoolTask>(task)); return;
    case Method::kDestroyPool: ipc->DelTask(chi::ipc::FullPtr<DestroyPoolTask>(task)); return;
    case Method::kStopRuntime: ipc->DelTask(chi::ipc::FullPtr<StopRuntimeTask>(task)); return;
    default: ipc->DelTask(task); return;
  }
}
