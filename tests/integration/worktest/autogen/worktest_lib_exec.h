#pragma once
void Run(chi::u32 method, chi::ipc::FullPtr<chi::Task> task, chi::RunContext &rctx) override {
  switch (method) {
    case Method::kCreate: Create(chi::ipc::FullPtr<CreateTask>(task), rctx); return;
    case Method::kDestroy: return;
    case Method::kEcho: Echo(chi::ipc::FullPtr<WorkTask>(task), rctx); return;
    case Method::kSpawn: Spawn(chi::ipc::FullPtr<WorkTask>(task), rctx); return;
    case Method::kThrow: Throw(chi::ipc::FullPtr<WorkTask>(task), rctx); return;
    case Method::kSleep: Sleep(chi::ipc::FullPtr<WorkTask>(task), rctx); return;
    default: task->SetError(chi::kTaskUnsupportedMethod, "worktest has no method " + std::to_string(method)); return;
  }
}
void Monitor(chi::MonitorModeId mode, chi::u32 method, chi::ipc::FullPtr<chi::Task> task,
             chi::RunContext &rctx) override {
  MonitorWork(mode, method, chi::ipc::FullPtr<WorkTask>(task), rctx);
}
void Del(const chi::ipc::MemContext &, chi::u32, chi::ipc::FullPtr<chi::Task> task) override {
  CHI_IPC_MANAGER->DelTask(chi::ipc::FullPtr<WorkTask>(task));
}
