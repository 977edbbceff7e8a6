"use strict";
var __create = Object.create;
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __getProtoOf = Object.getPrototypeOf;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toESM = (mod, isNodeMode, target) => (target = mod != null ? __create(__getProtoOf(mod)) : {}, __copyProps(
  // If the importer is in node compatibility mode or this is not an ESM
  // file that has been converted to a CommonJS file using a Babel-
  // compatible transform (i.e. "__esModule" has not been set), then set
  // "default" to the CommonJS "module.exports" for node compatibility.
  isNodeMode || !mod || !mod.__esModule ? __defProp(target, "default", { value: mod, enumerable: true }) : target,
  mod
));
var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

// src/edge/origin-request.ts
var origin_request_exports = {};
__export(origin_request_exports, {
  handleRequest: () => handleRequest,
  handler: () => handler
});
module.exports = __toCommonJS(origin_request_exports);
var import_node_fs = require("node:fs");
var path = __toESM(require("node:path"));

// src/edge/router.ts
var EDGE_CONFIG_FILE = "config.json";
var DIRECTORY_INDEX = "index.html";
var PACMAN_LINK = /^(.+)\.(db|files)(\.sig)?$/;
function route(uri, config) {
  if (!uri.startsWith("/")) return { kind: "status", status: 400, reason: 'the path must start with "/"' };
  let key = uri.slice(1);
  if (key === "" || key.endsWith("/")) key += DIRECTORY_INDEX;
  if (key === DIRECTORY_INDEX) return { kind: "origin", key };
  const repository = repositoryOf(key, config);
  if (!repository) return { kind: "status", status: 404, reason: "not under a repository prefix" };
  if (repository.format === "pacman") key = pacmanArchiveKey(key, repository);
  return { kind: "origin", key };
}
function repositoryOf(key, config) {
  let best;
  for (const repository of config.repositories) {
    if (key.startsWith(repository.prefix) && (!best || repository.prefix.length > best.prefix.length)) best = repository;
  }
  return best;
}
function pacmanArchiveKey(key, repository) {
  const slash = key.lastIndexOf("/");
  const dir = key.slice(0, slash + 1);
  const match = PACMAN_LINK.exec(key.slice(slash + 1));
  if (!match) return key;
  const [, name, kind, sig] = match;
  const names = repository.pacmanRepositories ?? [];
  if (names.length > 0 && !names.includes(name)) return key;
  return `${dir}${name}.${kind}.tar.gz${sig ?? ""}`;
}
function parseEdgeConfig(value) {
  const fail = (why) => {
    throw new Error(`invalid edge configuration: ${why}`);
  };
  if (typeof value !== "object" || value === null) fail("not an object");
  const repositories = value.repositories;
  if (!Array.isArray(repositories)) fail('"repositories" is not an array');
  const formats = ["yum", "apt", "apk", "pacman"];
  for (const [i, r] of repositories.entries()) {
    const repo = r;
    if (typeof repo?.prefix !== "string" || repo.prefix !== "" && !repo.prefix.endsWith("/")) fail(`repositories[${i}].prefix must be '' or end in '/'`);
    if (typeof repo?.format !== "string" || !formats.includes(repo.format)) fail(`repositories[${i}].format must be one of ${formats.join(", ")}`);
    const names = repo?.pacmanRepositories;
    if (names !== void 0 && (!Array.isArray(names) || names.some((n) => typeof n !== "string"))) {
      fail(`repositories[${i}].pacmanRepositories must be an array of strings`);
    }
  }
  return value;
}

// src/edge/origin-request.ts
var STATUS_TEXT = { 400: "Bad Request", 404: "Not Found" };
function handleRequest(request, config) {
  const result = route(request.uri, config);
  if (result.kind === "origin") {
    request.uri = `/${result.key}`;
    return request;
  }
  return {
    status: String(result.status),
    statusDescription: STATUS_TEXT[result.status],
    headers: {
      "content-type": [{ key: "Content-Type", value: "text/plain; charset=utf-8" }],
      "cache-control": [{ key: "Cache-Control", value: "public, max-age=60" }]
    },
    body: `${result.status} ${STATUS_TEXT[result.status]}: ${result.reason}
`
  };
}
var loaded;
function bakedConfig() {
  loaded ??= parseEdgeConfig(JSON.parse((0, import_node_fs.readFileSync)(path.join(__dirname, EDGE_CONFIG_FILE), "utf8")));
  return loaded;
}
async function handler(event) {
  return handleRequest(event.Records[0].cf.request, bakedConfig());
}
// Annotate the CommonJS export names for ESM import in node:
0 && (module.exports = {
  handleRequest,
  handler
});
