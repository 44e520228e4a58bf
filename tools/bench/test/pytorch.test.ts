import { describe, expect, it } from 'vitest';
import { startPyTorch } from '../src/pytorch.js';

/** The bench's optional PyTorch child: where it cannot run, it says why instead of hanging or throwing. */
describe('startPyTorch', () => {
  it('names a python that does not exist', async () => {
    const result = await startPyTorch('/nonexistent/python3');
    expect(result).toEqual({ error: expect.stringMatching(/^\/nonexistent\/python3 .*step\.py: spawn \/nonexistent\/python3 ENOENT$/) });
  });

  it('reports a program that exits without the ready line', async () => {
    const result = await startPyTorch('/bin/false');
    expect(result).toEqual({ error: expect.stringMatching(/step\.py: .* exited \(code 1\)$/) });
  });
});
