# frozen_string_literal: true

# A stand-in for the part of Homebrew that installs a formula like ours, so a test can run
# the rendered formula's own Ruby (its url/sha256 blocks, `install` and `test do`) without
# Homebrew:
#
#   ruby fake-brew.rb FORMULA.rb --list
#       prints the url and sha256 of every OS/CPU block as JSON
#   ruby fake-brew.rb FORMULA.rb --install TARBALL --prefix DIR [--os linux] [--cpu intel]
#       checks TARBALL against the sha256 of the block for that OS/CPU, unpacks it, cds into
#       its single top folder (as brew does), runs `install` with prefix DIR, then the
#       `test do` block; prints JSON and exits non-zero if anything fails
#
# It mimics brew's behaviour where the formula relies on it: Pathname#install moves files,
# install_symlink makes relative links, inreplace fails when nothing was replaced,
# shell_output fails on a non-zero exit, assert_match takes a String as a literal. The
# livecheck block is recorded (--list prints it), not run.
require 'digest'
require 'fileutils'
require 'json'
require 'open3'
require 'pathname'
require 'tmpdir'

class Pathname
  def install(*sources)
    mkpath
    sources.flatten.each do |src|
      src = Pathname(src)
      FileUtils.mv(src.to_s, (self / src.basename).to_s)
    end
  end

  def install_symlink(*targets)
    mkpath
    targets.flatten.each do |target|
      target = Pathname(target)
      link = self / target.basename
      link.make_symlink(target.relative_path_from(self))
    end
  end
end

# What a livecheck block declares.
class Livecheck
  attr_reader :settings

  def initialize
    @settings = {}
  end

  def url(value) = @settings['url'] = value.to_s
  def strategy(value) = @settings['strategy'] = value.to_s
  def regex(value) = @settings['regex'] = value.source
end

class Formula
  class << self
    attr_reader :blocks, :test_block, :meta, :livecheck_settings

    def livecheck(&block)
      check = Livecheck.new
      check.instance_eval(&block)
      @livecheck_settings = check.settings
    end

    def inherited(subclass)
      super
      subclass.instance_variable_set(:@blocks, [])
      subclass.instance_variable_set(:@context, [])
      subclass.instance_variable_set(:@meta, {})
      FakeBrew.formula_class = subclass
    end

    %i[desc homepage license].each do |name|
      define_method(name) { |value| @meta[name] = value }
    end

    def version(value = nil)
      @meta[:version] = value if value
      @meta[:version]
    end

    %i[on_macos on_linux on_arm on_intel].each do |name|
      define_method(name) do |&block|
        @context.push(name.to_s.delete_prefix('on_'))
        block.call
        @context.pop
      end
    end

    def url(value)
      @blocks << { 'context' => @context.dup, 'url' => value }
    end

    def sha256(value)
      raise 'sha256 before url' if @blocks.empty? || @blocks.last['context'] != @context

      @blocks.last['sha256'] = value
    end

    def test(&block)
      @test_block = block
    end
  end

  attr_reader :prefix

  def initialize(prefix)
    @prefix = Pathname(prefix)
  end

  def libexec = prefix / 'libexec'
  def lib = prefix / 'lib'
  def bin = prefix / 'bin'

  # brew's inreplace: a regexp or string replaced in a file of the build folder; it is an
  # error when nothing matches.
  def inreplace(path, pattern, replacement)
    text = File.read(path)
    changed = text.gsub(pattern, replacement)
    raise "inreplace failed: #{path} has no match for #{pattern.inspect}" if changed == text

    File.write(path, changed)
  end
  def version = self.class.version

  def shell_output(cmd, result = 0)
    output, status = Open3.capture2e(cmd)
    raise "#{cmd} exited #{status.exitstatus}, expected #{result}:\n#{output}" unless status.exitstatus == result

    output
  end

  def assert_match(pattern, text)
    pattern = Regexp.new(Regexp.escape(pattern)) if pattern.is_a?(String)
    raise "expected #{text.inspect} to match #{pattern.inspect}" unless pattern.match?(text)
  end
end

module FakeBrew
  class << self
    attr_accessor :formula_class
  end
end

def option(name)
  i = ARGV.index(name)
  i && ARGV[i + 1]
end

formula_file = ARGV.fetch(0)
load File.expand_path(formula_file)
klass = FakeBrew.formula_class or abort('the file defines no Formula subclass')

if ARGV.include?('--list')
  puts JSON.generate('class' => klass.name, 'version' => klass.version, 'blocks' => klass.blocks,
                     'livecheck' => klass.livecheck_settings)
  exit 0
end

tarball = option('--install') or abort('--install TARBALL or --list')
prefix = Pathname(option('--prefix') || abort('--prefix DIR'))
os = option('--os') || (RUBY_PLATFORM.include?('darwin') ? 'macos' : 'linux')
cpu = option('--cpu') || (RUBY_PLATFORM.match?(/arm|aarch64/) ? 'arm' : 'intel')
block = klass.blocks.find { |b| b['context'] == [os, cpu] } or abort("no url for #{os}/#{cpu}")
actual = Digest::SHA256.file(tarball).hexdigest
abort("SHA256 mismatch for #{tarball}: formula #{block['sha256']}, file #{actual}") if actual != block['sha256']

Dir.mktmpdir('fake-brew-') do |stage|
  system('tar', '-xf', File.expand_path(tarball), '-C', stage, exception: true)
  entries = Dir.children(stage)
  # brew cds into the archive's single top folder before `install`
  workdir = entries.length == 1 && File.directory?(File.join(stage, entries[0])) ? File.join(stage, entries[0]) : stage
  formula = klass.new(prefix)
  Dir.chdir(workdir) { formula.install }
  # brew runs `test do` in a fresh temporary folder that is also HOME
  Dir.mktmpdir('fake-brew-test-') do |home|
    ENV['HOME'] = home
    Dir.chdir(home) { formula.instance_eval(&klass.test_block) }
  end
end
puts JSON.generate('installed' => prefix.to_s, 'block' => block, 'test' => 'passed')
