import { ConfigError, sqlString } from '@ami/lib';

/**
 * The cluster form of the migrations' statements (CLICKHOUSE_CLUSTER set). The files stay the
 * single-node text (their checksums are of that text); each statement is rewritten here:
 *   - a MergeTree-family table `t` becomes `t_local`, Replicated*MergeTree on every replica
 *     (ZooKeeper path /clickhouse/tables/{shard}/<db>/t_local, replica {replica}: the servers'
 *     macros), plus `t`, a Distributed table over it, sharded by the first column of its sorting
 *     key (meter_id for reads, events, meters, billing): every row of one key lands on one
 *     shard, so FINAL and argMax per key stay right. Everything else keeps reading and writing
 *     `t`, as on a single node.
 *   - a materialized view runs on every replica over the local source table, into the local
 *     (replicated) target: a replica's insert fires it once, and the target's parts replicate
 *     like the source's (a fetched part fires no view, so nothing is counted twice).
 *   - views, databases and drops get ON CLUSTER; a Buffer writes into the local table.
 *   - ADD COLUMN alters the replicated table ON CLUSTER (18.16 runs it once per shard) and
 *     re-creates the Distributed table, which 18.16 cannot ALTER on a replicated cluster.
 *   - an INSERT runs once, through the Distributed tables.
 * A statement of another kind is refused (ConfigError) rather than applied on one server only.
 */

/** A MergeTree-family table of the migrations, as its CREATE statement gave it. */
export interface TableDefinition {
  /** `` `db`.name `` */
  name: string;
  /** The kind before MergeTree: '', 'Replacing', 'Aggregating', ... */
  kind: string;
  /** The engine's own arguments (ReplacingMergeTree(version): 'version'). */
  args: string;
  /** PARTITION BY / ORDER BY / SETTINGS after the engine. */
  rest: string;
}

/** The cluster's name and the tables created so far (by every migration, applied or not). */
export interface ClusterContext {
  cluster: string;
  tables: Map<string, TableDefinition>;
}

const NAME = '(`[^`]+`\\.\\w+)';
const CREATE_DATABASE = /^CREATE DATABASE IF NOT EXISTS (`[^`]+`)$/;
const CREATE_MERGE_TREE = new RegExp(
  `^CREATE TABLE IF NOT EXISTS ${NAME}\\s*\\(([\\s\\S]*)\\)\\s*ENGINE\\s*=\\s*(\\w*)MergeTree\\(([^)]*)\\)([\\s\\S]*)$`,
);
const CREATE_AS = new RegExp(`^CREATE TABLE IF NOT EXISTS ${NAME} AS ${NAME}$`);
const CREATE_BUFFER = new RegExp(
  `^CREATE TABLE IF NOT EXISTS ${NAME} AS ${NAME}\\s+ENGINE\\s*=\\s*Buffer\\((\`[^\`]+\`),\\s*(\\w+),([^)]*)\\)$`,
);
const CREATE_VIEW = new RegExp(`^CREATE VIEW IF NOT EXISTS ${NAME} AS\\b([\\s\\S]*)$`);
const CREATE_MATERIALIZED_VIEW = new RegExp(
  `^CREATE MATERIALIZED VIEW IF NOT EXISTS ${NAME} TO ${NAME} AS\\b([\\s\\S]*)$`,
);
const ADD_COLUMN = new RegExp(`^ALTER TABLE ${NAME} (ADD COLUMN [\\s\\S]*)$`);
const DROP_TABLE = new RegExp(`^DROP TABLE IF EXISTS ${NAME}$`);
const INSERT = /^INSERT INTO /;

/** The statement without the comment lines before it. */
function body(statement: string): string {
  const lines = statement.split('\n');
  while (lines.length > 0 && (lines[0]!.trim() === '' || lines[0]!.trim().startsWith('--'))) lines.shift();
  return lines.join('\n').trim();
}

const local = (name: string) => `${name}_local`;
const unquote = (name: string) => name.split('.').map((p) => p.replace(/`/g, ''));

function onCluster(ctx: ClusterContext): string {
  return `ON CLUSTER ${ctx.cluster}`;
}

/** The first column of the sorting key: the sharding key's column. */
function firstKeyColumn(def: TableDefinition): string {
  const m = /ORDER BY\s*\(?\s*(\w+)/.exec(def.rest);
  if (!m) throw new ConfigError(`${def.name}: no ORDER BY to shard by`);
  return m[1]!;
}

function replicatedEngine(def: TableDefinition): string {
  const [db, table] = unquote(local(def.name));
  const path = sqlString(`/clickhouse/tables/{shard}/${db}/${table}`);
  const args = [path, "'{replica}'", ...(def.args.trim() ? [def.args.trim()] : [])].join(', ');
  return `ENGINE = Replicated${def.kind}MergeTree(${args})${def.rest}`;
}

function distributedTable(ctx: ClusterContext, def: TableDefinition): string {
  const name = def.name;
  const [db, table] = unquote(local(name));
  const key = `cityHash64(${firstKeyColumn(def)})`;
  return `CREATE TABLE IF NOT EXISTS ${name} ${onCluster(ctx)} AS ${local(name)} ENGINE = Distributed(${sqlString(ctx.cluster)}, ${sqlString(db!)}, ${sqlString(table!)}, ${key})`;
}

/** `FROM <db>.t` becomes `FROM <db>.t_local` for the migrations' MergeTree tables. */
function fromLocalTables(select: string, ctx: ClusterContext): string {
  return select.replace(new RegExp(`\\bFROM ${NAME}`, 'g'), (whole, name: string) =>
    ctx.tables.has(name) ? `FROM ${local(name)}` : whole,
  );
}

function definitionOf(ctx: ClusterContext, name: string, statement: string): TableDefinition {
  const def = ctx.tables.get(name);
  if (!def) throw new ConfigError(`no MergeTree table ${name} for the cluster form of: ${statement}`);
  return def;
}

/** The replicated local table (`shape`: its columns, or `AS <table>`) and the Distributed table over it. */
function replicatedPair(ctx: ClusterContext, def: TableDefinition, shape: string): string[] {
  ctx.tables.set(def.name, def);
  return [
    `CREATE TABLE IF NOT EXISTS ${local(def.name)} ${onCluster(ctx)} ${shape} ${replicatedEngine(def)}`,
    distributedTable(ctx, def),
  ];
}

/**
 * The statements that do on the cluster what `statement` does on one server; records the
 * tables it creates in `ctx` (call it for every statement of every migration, in order).
 */
export function clusterStatements(statement: string, ctx: ClusterContext): string[] {
  const sql = body(statement);
  let m: RegExpExecArray | null;
  if ((m = CREATE_DATABASE.exec(sql))) return [`CREATE DATABASE IF NOT EXISTS ${m[1]} ${onCluster(ctx)}`];
  if ((m = CREATE_MERGE_TREE.exec(sql))) {
    const def = { name: m[1]!, kind: m[3]!, args: m[4]!, rest: m[5]! };
    return replicatedPair(ctx, def, `(${m[2]})`);
  }
  if ((m = CREATE_AS.exec(sql))) {
    const source = m[2]!;
    return replicatedPair(ctx, { ...definitionOf(ctx, source, sql), name: m[1]! }, `AS ${local(source)}`);
  }
  if ((m = CREATE_BUFFER.exec(sql))) {
    // Into the local table of the server that took the insert: a Distributed destination would
    // check the inserting user's access to the trail's database, which the audit user has not.
    const [name, source, db, table, args] = [m[1]!, m[2]!, m[3]!, m[4]!, m[5]!];
    const destination = `${db}.${table}`;
    if (!ctx.tables.has(source) || !ctx.tables.has(destination))
      throw new ConfigError(`a Buffer over ${destination}, not a MergeTree table of the migrations: ${sql}`);
    return [
      `CREATE TABLE IF NOT EXISTS ${name} ${onCluster(ctx)} AS ${local(source)} ENGINE = Buffer(${db}, ${table}_local,${args})`,
    ];
  }
  if ((m = CREATE_MATERIALIZED_VIEW.exec(sql))) {
    const [name, target, select] = [m[1]!, m[2]!, m[3]!];
    definitionOf(ctx, target, sql);
    return [
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${name} ${onCluster(ctx)} TO ${local(target)} AS${fromLocalTables(select, ctx)}`,
    ];
  }
  if ((m = CREATE_VIEW.exec(sql))) return [`CREATE VIEW IF NOT EXISTS ${m[1]} ${onCluster(ctx)} AS${m[2]}`];
  if ((m = ADD_COLUMN.exec(sql))) {
    const [name, change] = [m[1]!, m[2]!];
    const def = definitionOf(ctx, name, sql);
    return [
      `ALTER TABLE ${local(name)} ${onCluster(ctx)} ${change}`,
      `DROP TABLE IF EXISTS ${name} ${onCluster(ctx)}`,
      distributedTable(ctx, def),
    ];
  }
  if ((m = DROP_TABLE.exec(sql))) {
    const name = m[1]!;
    const drop = [`DROP TABLE IF EXISTS ${name} ${onCluster(ctx)}`];
    return ctx.tables.has(name) ? [...drop, `DROP TABLE IF EXISTS ${local(name)} ${onCluster(ctx)}`] : drop;
  }
  if (INSERT.test(sql)) return [statement];
  throw new ConfigError(`migration statement has no cluster form yet (add one in migrateCluster.ts): ${sql}`);
}
