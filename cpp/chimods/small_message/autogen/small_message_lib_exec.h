#pragma once
// Dispatch by method id for small_message. Hand-written until the generator lands.
void Run(chi::u32 method, chi::ipc::FullPtr<chi::Task> task, chi::RunContext &rctx) override {
  switch (method) {
    case Method::kCreate: Create(chi::ipc::FullPtr<CreateTask>(task), rctx); return;
    case Method::kDestroy: Destroy(chi::ipc::FullPtr<DestroyTask>(task), rctx); return;
    case Method::kMd: Md(chi::ipc::FullPtr<MdTask>(task), rctx); return;
    default: task->SetError(chi::kTaskUnsupportedMethod, "small_message has no method " + std::to_string(method)); return;
  }
}
void Monitor(chi::MonitorModeId mode, chi::u32 method, chi::ipc::FullPtr<chi::Task> task,
             chi::RunContext &rctx) override {
  switch (method) {
    case Method::kMd: MonitorMd(mode, chi::ipc::FullPtr<MdTask>(task), rctx); return;
    default: return;
  }
}
void Del(const chi::ipc::MemContext &, chi::u32 method, chi::ipc::FullPtr<chi::Task> task) override {
  switch (method) {
    case Method::kMd: CHI_IPC_MANAGER->DelTask(chi::ipc::FullPtr<MdTask>(task)); return;
    default: CHI_IPC_MANAGER->DelTask(task); return;
  }
}
