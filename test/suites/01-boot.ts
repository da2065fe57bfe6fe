/** Boot and version: after a reset the firmware prints its name and version, and the console agrees. */
import assert from 'node:assert/strict';
import { defineSuite } from '@kiln/test';

export default defineSuite('boot and version', ({ test }) => {
  test('boots the app and prints its name, version and protocol', async ({ dut }) => {
    await dut.reset();
    const m = await dut.expect(/kiln: (\S+) (\d+\.\d+\.\d+\S*), protocol (kiln\.v\d+), boot ([0-9a-f]{16})/);
    assert.equal(m[1], 'kiln_firmware');
    assert.equal(m[3], 'kiln.v1');
    await dut.expect(/kiln: state \w+/);
  });

  test('the console answers version with the same version', async ({ dut }) => {
    await dut.write('version');
    const m = await dut.expect(/kiln_firmware (\d+\.\d+\.\d+\S*) protocol=kiln\.v1 rpc=\d+ boot=[0-9a-f]{16}/, {
      timeout: 5000,
    });
    assert.match(m[1] ?? '', /^\d+\.\d+\.\d+/);
  });
});
