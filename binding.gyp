{
  "targets": [
    {
      "target_name": "incus_native",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/failure.cc",
        "native/addon/cgroup.cc",
        "native/addon/lxc-common.cc",
        "native/addon/lxc-ops.cc",
        "native/addon/cgroup-items.cc",
        "native/addon/freezer.cc",
        "native/addon/batch-state.cc",
        "native/addon/init-cache.cc",
        "native/addon/pidfd.cc",
        "native/addon/shift-tree.cc",
        "native/addon/pty.cc",
        "native/addon/console.cc",
        "native/addon/fdpass.cc",
        "native/addon/abstract-socket.cc",
        "native/addon/peercred.cc",
        "native/addon/dqlite-node.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-llxc", "-ldqlite"]
    },
    {
      "target_name": "incusd-helper",
      "type": "executable",
      "sources": [
        "native/helpers/incusd-helper.c",
        "native/helpers/forkstart.c",
        "native/helpers/idmap-probe.c",
        "native/helpers/dev-ns.c",
        "native/helpers/forkmount.c",
        "native/helpers/forkproxy.c",
        "native/helpers/proxy-addr.c",
        "native/helpers/proxy-relay.c",
        "native/helpers/forkexec.c",
        "native/helpers/forkexec-server.c",
        "native/helpers/forkfile.c",
        "native/helpers/forkfile-enter.c",
        "native/helpers/forkfile-ops.c",
        "native/helpers/netns-addrs.c",
        "native/helpers/netcat.c"
      ],
      "cflags": ["-Wall", "-Wextra"],
      "cflags_c": ["-std=gnu11"],
      "libraries": ["-llxc"]
    },
    {
      "target_name": "incus-agent",
      "type": "executable",
      "sources": [
        "native/agent/main.c",
        "native/agent/json.c",
        "native/agent/exec.c",
        "native/agent/state.c",
        "native/agent/files.c",
        "native/agent/power.c",
        "native/helpers/forkfile-ops.c"
      ],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_c": ["-std=gnu11"],
      "ldflags": ["-static"]
    }
  ]
}
