// Runtime of small_message: empty tasks routed by their DomainQuery hash.
#include "chimaera/client/ipc_manager.h"
#include "chimaera/runtime/module_api.h"
#include "small_message/small_message_tasks.h"

namespace chimaera::small_message {

class Runtime : public chi::Container {
 public:
#include "small_message_lib_exec.h"

  // Create/Destroy run inside the admin's CreatePool/DestroyPool (never
  // routed to this pool's lanes), so their Monitor has nothing to decide.
  void Create(chi::ipc::FullPtr<CreateTask>, chi::RunContext &) {}
  void MonitorCreate(chi::MonitorModeId, chi::ipc::FullPtr<CreateTask>, chi::RunContext &) {}
  void Destroy(chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}
  void MonitorDestroy(chi::MonitorModeId, chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}
  void Md(chi::ipc::FullPtr<MdTask>, chi::RunContext &) {}
  void MonitorMd(chi::MonitorModeId mode, chi::ipc::FullPtr<MdTask> task, chi::RunContext &rctx) {
    switch (mode) {
      case chi::MonitorModeId::kLocalSchedule: rctx.route_lane_ = GetLaneByHash(0, task->dom_query_.GetSelector()); break;
      case chi::MonitorModeId::kGlobalSchedule: break;
      case chi::MonitorModeId::kEstLoad: rctx.load_.cpu_us_ = 1; break;
    }
  }
};

}  // namespace chimaera::small_message

CHI_TASK_CC(chimaera::small_message::Runtime, "small_message");
