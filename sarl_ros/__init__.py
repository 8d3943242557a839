"""sarl_ros: semantic reinforcement learning over a VLA's language prompts."""
# The generated interfaces (sarl_ros.msg/srv/action) may live in another sys.path
# entry than this source tree (development environment); merge both into one package.
__path__ = __import__('pkgutil').extend_path(__path__, __name__)

__version__ = '0.1.0'
