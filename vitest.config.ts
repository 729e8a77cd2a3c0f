import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { fileURLToPath } from 'node:url';

/**
 * The longest files first (the 1 M-frame gateway fuzz alone takes 80-130 s on 2 cores): on a
 * clean checkout vitest has no timing cache, and a long file started last would add its whole
 * run to the suite's wall time.
 */
const SLOW_FIRST = ['test/gateway/fuzz-gateway.test.ts', 'test/gateway/faults.test.ts', 'test/cli/data-commands.test.ts', 'test/cli/run-command.test.ts'];

class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((p) => f.moduleId.replaceAll('\\', '/').endsWith(p));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  resolve: {
    // Strategies import 'tradeloop'; in tests that is the source tree, not dist/.
    alias: { tradeloop: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Many files wait on sockets and child processes rather than the CPU: on 2 cores the
    // default (one worker) would run them one after another.
    maxWorkers: 3,
    sequence: { sequencer: SlowFirstSequencer },
  },
});
