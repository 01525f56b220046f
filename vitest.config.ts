import { defineConfig } from 'vitest/config'

// Suites that drive the local Docker engine (one restarts dockerd, one boots systemd in a container) run one after
// the other in their own project; everything else runs in parallel beside them.
const ENGINE = ['test/docker.test.ts', 'test/systemd.test.ts', 'test/ha.test.ts', 'test/deploy.test.ts']

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: [
            'packages/**/*.test.ts',
            'services/**/*.test.ts',
            'web/src/**/*.test.ts',
            'test/**/*.test.ts',
          ],
          exclude: ENGINE,
        },
      },
      { extends: true, test: { name: 'engine', include: ENGINE, fileParallelism: false } },
    ],
  },
})
