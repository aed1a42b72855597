// A Playwright reporter that ends a run by saying where the HTML report is,
// so that `make e2e` leaves the path on screen.
import path from 'node:path';

export default class ReportLocation {
  constructor(options = {}) {
    this.folder = options.outputFolder || 'playwright-report';
    this.ran = false;
  }

  onBegin(config, suite) {
    const base = config.configFile ? path.dirname(config.configFile) : config.rootDir;
    this.dir = path.resolve(base, this.folder);
    this.base = base;
    this.ran = suite.allTests().length > 0;
  }

  onEnd() {
    if (!this.ran) return;
    const rel = path.relative(process.cwd(), this.base);
    const cd = rel ? `cd ${rel} && ` : '';
    console.log(`\nHTML report: ${path.join(this.dir, 'index.html')}`);
    console.log(`Open it with: ${cd}npx playwright show-report ${this.folder}`);
  }

  printsToStdio() {
    return false;
  }
}
