import type { Command } from 'commander';
import { createClickHouse, createLogger, ValidationError } from '@ami/lib';
import { loadLoaderConfig } from './config.js';
import { migrate } from './migrate.js';
import { loadTariffs } from './tariffs.js';
import { startLoader } from './loader.js';
import { loadLoaderFaults } from './faults.js';
import { customerUsage, refreshBilling, type UsageRow } from './billingStore.js';
import { senToRupiah } from './billing.js';

/** `ami db migrate`, `ami loader run`, `ami billing refresh`, `ami usage`. */
export function registerLoaderCommands(program: Command): void {
  program
    .command('db')
    .description('the ClickHouse schema')
    .command('migrate')
    .description('apply the numbered migrations in migrations/ and load the tariff files (safe to rerun)')
    .action(async () => {
      const cfg = loadLoaderConfig();
      const logger = createLogger('loader', cfg.LOG_LEVEL);
      const ch = createClickHouse(cfg);
      try {
        const applied = await migrate(ch, cfg.CLICKHOUSE_DB, logger, { cluster: cfg.CLICKHOUSE_CLUSTER });
        const tariffs = await loadTariffs(ch, cfg.CLICKHOUSE_DB, logger);
        console.log(
          `${cfg.CLICKHOUSE_DB}: ${applied.length} migration(s) applied, tariff versions loaded: ${tariffs.join(', ') || 'none new'}`,
        );
      } finally {
        await ch.close();
      }
    });

  program
    .command('loader')
    .description('Kafka → ClickHouse loader')
    .command('run')
    .description('consume meters, reads, events and outages into ClickHouse until stopped')
    .action(async () => {
      const cfg = loadLoaderConfig();
      const logger = createLogger('loader', cfg.LOG_LEVEL);
      const loader = await startLoader(cfg, logger, undefined, loadLoaderFaults());
      // Stopped by itself (logged where it stopped): exit non-zero so a supervisor sees it.
      void loader.failed.then(() => process.exit(1));
      const stop = async () => {
        logger.info('stopping');
        await loader.stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });

  program
    .command('billing')
    .description('billing_usage')
    .command('refresh')
    .description('recompute one local month for every meter')
    .requiredOption('--period <YYYY-MM>', 'billing month')
    .action(async (opts: { period: string }) => {
      const cfg = loadLoaderConfig();
      const ch = createClickHouse(cfg);
      const t0 = Date.now();
      try {
        await refreshBilling(ch, cfg.CLICKHOUSE_DB, opts.period, {
          lookaroundDays: cfg.BILLING_LOOKAROUND_DAYS,
          settleS: cfg.BILLING_SETTLE_S,
        });
        console.log(`billing ${opts.period} refreshed in ${((Date.now() - t0) / 1000).toFixed(2)} s`);
      } finally {
        await ch.close();
      }
    });

  program
    .command('usage')
    .description("a customer's kWh and rupiah for a period (local dates, both inclusive)")
    .argument('<idpel>', 'customer id (12 digits)')
    .requiredOption('--from <YYYY-MM-DD>', 'first day')
    .requiredOption('--to <YYYY-MM-DD>', 'last day (inclusive)')
    .option('--json', 'machine-readable output')
    .action(async (idpel: string, opts: { from: string; to: string; json?: boolean }) => {
      const cfg = loadLoaderConfig();
      const ch = createClickHouse(cfg);
      try {
        const rows = await customerUsage(ch, cfg.CLICKHOUSE_DB, idpel, opts.from, opts.to, {
          lookaroundDays: cfg.BILLING_LOOKAROUND_DAYS,
        });
        if (rows.length === 0)
          throw new ValidationError(`no reads for IDPEL ${idpel} in ${opts.from}..${opts.to}`);
        if (opts.json) return console.log(JSON.stringify(rows, null, 2));
        for (const r of rows) console.log(formatUsage(r));
      } finally {
        await ch.close();
      }
    });
}

export function formatUsage(r: UsageRow): string {
  const flags = [
    r.estimated ? 'ESTIMATED' : 'exact',
    r.period_complete ? 'complete' : 'to date (in progress)',
    r.minimum_applied ? 'minimum charge' : '',
  ].filter(Boolean);
  return [
    `IDPEL ${r.idpel}  meter ${r.meter_id}  ${r.tariff}/${r.daya_va} VA  ${r.region}/${r.ulp}`,
    `  ${r.period_start} → ${r.period_end} UTC   stand ${r.energy_start_wh} → ${r.energy_end_wh} Wh`,
    `  ${r.kwh} kWh   Rp ${senToRupiah(Number(r.amount_sen))}   (${flags.join(', ')}; reads ${r.reads_received}/${r.reads_expected}; tariff ${r.tariff_version})`,
  ].join('\n');
}
