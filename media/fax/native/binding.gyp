{
  # The fax addon: a thin node-addon-api wrapper of SpanDSP's audio fax (fax_state_t) and T.38
  # terminal (t38_terminal_state_t), both T.30.
  # Built by scripts/fax/build-addon.mjs (the postinstall) against Debian's libspandsp-dev.
  "targets": [
    {
      "target_name": "edgepbx_fax",
      "sources": ["fax_session.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["<!@(pkg-config --cflags spandsp)"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["<!@(pkg-config --libs spandsp)"]
    }
  ]
}
