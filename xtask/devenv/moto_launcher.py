"""Runs moto's server on 127.0.0.1 for the project's tests and `cargo xtask local`.

Prints "PORT <n>" once the socket listens (port 0 asks the OS for a free one), and exits when its
standard input closes, so a test process that dies never leaves a server behind.

It also mends a measured gap of moto 5.2's CloudFormation (see shared/AWS-NOTES.md): stacks made
through change sets register no Outputs or Exports and cannot resolve Fn::ImportValue, which
CreateStack does. The emulator is fixed here, in the harness; the product's deploy code stays as it
must be for AWS.
"""

import sys
import threading

from moto.cloudformation.models import CloudFormationBackend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

_create_change_set = CloudFormationBackend.create_change_set
_execute_change_set = CloudFormationBackend.execute_change_set


def create_change_set(self, stack_name, *args, **kwargs):
    change_set_id, stack_id = _create_change_set(self, stack_name, *args, **kwargs)
    stack = self.stacks[stack_id]
    # Let the stack resolve Fn::ImportValue against the exports of other stacks.
    stack.cross_stack_resources = self.exports
    stack.resource_map.cross_stack_resources = self.exports
    return change_set_id, stack_id


def execute_change_set(self, change_set_name, stack_name=None):
    _execute_change_set(self, change_set_name, stack_name)
    change_set = self.describe_change_set(change_set_name)
    stack = self.stacks[change_set.stack_id]
    # Register the outputs and exports, as CreateStack and UpdateStack do.
    stack._parse_template()
    stack.output_map = stack._create_output_map()
    for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
        del self.exports[name]
    for export in stack.exports:
        self.exports[export.name] = export


CloudFormationBackend.create_change_set = create_change_set
CloudFormationBackend.execute_change_set = execute_change_set


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, app, True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT {server.server_port}", flush=True)
    # Block until the parent closes our stdin (or dies), then stop.
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
