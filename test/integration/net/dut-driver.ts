// Runs the network phase inside a DUT network namespace (`ip netns exec NS node dut-driver.ts`):
// argv[2] is JSON { plan, options }. Prints the console log, then `RESULT <json>` (or `ERROR <text>`);
// `WHILE LEASING` in the log where the phase hands the launcher its wait for a lease.
import { Logger } from '../../../src/log/logger.ts';
import { describeError } from '../../../src/log/errors.ts';
import { configureNetwork, type NetworkOptions } from '../../../src/net/configure.ts';
import type { NetworkPlan } from '../../../src/net/types.ts';

const input = JSON.parse(process.argv[2] ?? '{}') as { plan: NetworkPlan; options: Omit<NetworkOptions, 'log'> };
const log = new Logger({ color: false });
try {
  const summary = await configureNetwork(input.plan, { ...input.options, log, whileLeasing: () => log.info('WHILE LEASING') });
  process.stdout.write(`RESULT ${JSON.stringify(summary)}\n`);
} catch (error) {
  process.stdout.write(`ERROR ${JSON.stringify(describeError(error))}\n`);
  process.exitCode = 1;
}
